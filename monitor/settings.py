"""The daemon's configuration: one YAML file, strictly validated.

``load_config(path)`` returns a frozen :class:`Config` or raises ConfigError/ConfigErrors whose
lines read ``file: key.path: what is wrong (got 'value')``. Unknown keys are errors. Source
and notifier entries keep their kind-specific keys in ``options``: those are validated by the
kind's own model (sources/, alerts/notify/), and the plan by alerts/plan.py, when the daemon
builds them; ``brandpulse check-config`` runs every one of those checks at once.

Secrets never sit in the file: keys ending in ``_env`` name an environment variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor import defaults
from monitor.clock import parse_duration
from monitor.errors import ConfigError, ConfigErrors
from monitor.models import Brand
from monitor.settings_ops import AuthSettings, ClusterSettings, RetentionSettings, Strict
from monitor.settings_reports import ReportSettings

_ID = r"^[a-z0-9][a-z0-9_.-]{0,99}$"


class StorageSettings(Strict):
    url: str = defaults.STORAGE_URL  # SQLAlchemy URL: sqlite:///path or postgresql+psycopg://...
    url_env: str | None = None  # take the URL from this environment variable instead (it may hold a password)
    retention: RetentionSettings = RetentionSettings()


class HttpSettings(Strict):
    listen: str = defaults.LISTEN
    base_url: str | None = None  # public address of this daemon, used for ack links in notifications
    # deprecated alias of auth.responder_token_env (the respond role's token); set one of the two
    responder_token_env: str | None = None
    # environment variable holding the HMAC key that signs the one-click ack links in notifications
    link_secret_env: str | None = None
    auth: AuthSettings = AuthSettings()

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        parse_listen(v)
        return v

    @field_validator("auth")
    @classmethod
    def _auth(cls, v: AuthSettings, info: ValidationInfo) -> AuthSettings:
        if v.responder_token_env and info.data.get("responder_token_env"):
            raise ValueError("responder_token_env is also set as http.responder_token_env (its old name): keep one")
        listen = info.data.get("listen")
        host = parse_listen(listen)[0] if v.anonymous_role and listen else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"anonymous_role is allowed only with a loopback listen address (127.0.0.1, ::1), "
                             f"not {host!r}: anyone who reaches the port could read")
        return v


class LoggingSettings(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json", "logfmt"] = "text"  # one line per event; json/logfmt for log collectors


class NlpSettings(Strict):
    model: str | None = None  # folder of a model artifact; default: the one shipped in nlp/model
    neutral_band: tuple[float, float] = defaults.NEUTRAL_BAND
    user_dict: list[str] = Field(default_factory=list)  # extra jieba dictionaries, relative to the config
    dedupe_window: float = defaults.DEDUPE_WINDOW_HOURS * 3600  # seconds
    crisis_keywords: str | None = None  # crisis word list (one term a line), relative to the config; None = none

    _dur = field_validator("dedupe_window", mode="before")(lambda cls, v: parse_duration(v))

    @field_validator("neutral_band")
    @classmethod
    def _band(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"expected 0 <= low <= high <= 1, got {list(v)!r}")
        return v


class AlertSettings(Strict):
    evaluate_interval: float = defaults.EVALUATE_INTERVAL_SECONDS  # how often every brand is evaluated
    dispatch_interval: float = defaults.DISPATCH_INTERVAL_SECONDS  # how often the outbox is drained
    language: Literal["zh", "en"] = "zh"  # language of notification messages
    # how long a notification being sent stays claimed: a sender killed mid-send delays it this long
    claim_timeout: float = defaults.OUTBOX_CLAIM_SECONDS

    _dur = field_validator("evaluate_interval", "dispatch_interval", "claim_timeout", mode="before")(
        lambda cls, v: parse_duration(v)
    )

    @field_validator("claim_timeout")
    @classmethod
    def _claim_positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"claim_timeout must be positive, got {v!r}")
        return v


class BrandSettings(Strict):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)

    def to_brand(self) -> Brand:
        return Brand(self.id, self.name, tuple(self.aliases), tuple(self.exclusions))


class _Entry(BaseModel):
    """A source or notifier entry: common keys here, the rest kept for the kind to validate."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=_ID)
    kind: str = Field(min_length=1)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SourceSettings(_Entry):
    interval: float = defaults.POLL_INTERVAL_SECONDS  # seconds between polls
    enabled: bool = True

    _dur = field_validator("interval", mode="before")(lambda cls, v: parse_duration(v))

    @field_validator("interval")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"interval must be positive, got {v!r}")
        return v


class NotifierSettings(_Entry):
    pass


class _Root(Strict):
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    logging: LoggingSettings = LoggingSettings()
    nlp: NlpSettings = NlpSettings()
    alerts: AlertSettings = AlertSettings()
    reports: ReportSettings = ReportSettings()  # monitor/settings_reports.py
    brands: list[BrandSettings] = Field(min_length=1)
    sources: list[SourceSettings] = Field(default_factory=list)
    notifiers: list[NotifierSettings] = Field(default_factory=list)
    plan: str | dict[str, Any] | None = None  # path to the crisis plan (relative to this file) or inline
    cluster: ClusterSettings = ClusterSettings()

    @model_validator(mode="after")
    def _unique_ids(self) -> _Root:
        for name in ("brands", "sources", "notifiers"):
            seen: set[str] = set()
            for i, entry in enumerate(getattr(self, name)):
                if entry.id in seen:
                    raise ValueError(f"{name}[{i}].id: duplicate id {entry.id!r}")
                seen.add(entry.id)
        return self


@dataclass(frozen=True)
class Config:
    """A validated configuration. ``file`` is where it came from; relative paths resolve
    against ``base_dir`` (the file's folder)."""

    file: str
    base_dir: Path
    storage_url: str
    http: HttpSettings
    logging: LoggingSettings
    nlp: NlpSettings
    alerts: AlertSettings
    brands: tuple[Brand, ...]
    sources: tuple[SourceSettings, ...]
    notifiers: tuple[NotifierSettings, ...]
    plan: dict[str, Any] | None  # the plan mapping, read from its file when given as a path
    plan_file: str | None  # where the plan came from, for error messages
    retention: RetentionSettings = field(default_factory=RetentionSettings)  # storage.retention
    reports: ReportSettings = field(default_factory=ReportSettings)  # reports: (scheduled weekly/monthly reports)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port such as 127.0.0.1:9108, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _errors_from_validation(exc: ValidationError, file: str) -> list[ConfigError]:
    errors = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        key = _key_path(loc)
        # a model-level message may carry its own "path: problem" prefix
        head = msg.split(": ", 1)[0]
        if not key and ": " in msg and re.fullmatch(r"[A-Za-z_][\w.\[\]]*", head):
            key, msg = msg.split(": ", 1)
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config/brandpulse.example.yaml)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "string_pattern_mismatch":
            msg = f"expected a lower-case id such as 'acme' (letters, digits, '-', '_', '.'), got {err['input']!r}"
        elif "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        errors.append(ConfigError(msg, file=file, key_path=key or None))
    return errors


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error becomes a one-line ConfigError with the line number."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=file) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=where) from None


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file. Raises ConfigError / ConfigErrors (every problem)."""
    path = Path(path)
    file = str(path)
    env = os.environ if environ is None else environ
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(data).__name__}", file=file)
    try:
        root = _Root.model_validate(data)
    except ValidationError as exc:
        ConfigErrors.collect(_errors_from_validation(exc, file))
        raise  # unreachable: collect raised
    base_dir = path.resolve().parent
    problems: list[ConfigError] = []

    storage_url = root.storage.url
    if root.storage.url_env:
        storage_url = env.get(root.storage.url_env, "")
        if not storage_url:
            problems.append(ConfigError(f"environment variable {root.storage.url_env!r} is not set",
                                        file=file, key_path="storage.url_env"))
    storage_url = resolve_sqlite_url(storage_url, base_dir)

    plan: dict[str, Any] | None = None
    plan_file: str | None = file
    if isinstance(root.plan, str):
        plan_path = Path(root.plan) if Path(root.plan).is_absolute() else base_dir / root.plan
        plan_file = str(plan_path)
        try:
            loaded = read_yaml(plan_path)
        except ConfigError as exc:
            problems.append(ConfigError(exc.problem, file=file if exc.problem == "file not found" else exc.file,
                                        key_path="plan" if exc.problem == "file not found" else None))
        else:
            if not isinstance(loaded, dict):
                problems.append(ConfigError("expected a mapping at the top level", file=plan_file))
            else:
                plan = loaded
    elif isinstance(root.plan, dict):
        plan = root.plan

    for i, d in enumerate(root.nlp.user_dict):
        p = Path(d) if Path(d).is_absolute() else base_dir / d
        if not p.is_file():
            problems.append(ConfigError(f"file not found: {str(p)!r}", file=file, key_path=f"nlp.user_dict[{i}]"))
    if root.nlp.crisis_keywords is not None:
        p = Path(root.nlp.crisis_keywords)
        p = p if p.is_absolute() else base_dir / p
        if not p.is_file():
            problems.append(ConfigError(f"file not found: {str(p)!r}", file=file, key_path="nlp.crisis_keywords"))
    ConfigErrors.collect(problems)

    return Config(
        file=file,
        base_dir=base_dir,
        storage_url=storage_url,
        retention=root.storage.retention,
        reports=root.reports,
        http=root.http,
        logging=root.logging,
        nlp=root.nlp,
        alerts=root.alerts,
        brands=tuple(b.to_brand() for b in root.brands),
        sources=tuple(root.sources),
        notifiers=tuple(root.notifiers),
        plan=plan,
        plan_file=plan_file,
        cluster=root.cluster,
    )


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path absolute against the config's folder (``sqlite:///rel/x.db``)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        rel = url[len(prefix):]
        return prefix + str((base_dir / rel).resolve())
    return url
