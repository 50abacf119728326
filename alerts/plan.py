"""The crisis response plan: levels, their conditions, who to tell, and how fast they must react.

The plan is a YAML file a brand manager reads and edits (``config/crisis_plan.example.yaml``
documents every key). It is validated strictly, and every problem is reported at once:

    plan = load_plan("config/crisis_plan.yaml", notifier_ids={"console", "ops-webhook"})
    plan.levels[0].id            # least severe level, e.g. "watch"
    plan.next_level("warning")   # the level an unacknowledged warning escalates to, or None

A bad plan raises ConfigError (one problem) or ConfigErrors (several), each message shaped
``file: levels[1].notify[0]: unknown contact 'wang-wu' (known: li-si, zhang-san)``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.keywords import CrisisKeyword
from monitor import defaults
from monitor.errors import ConfigError, ConfigErrors

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = r"^[a-z0-9][a-z0-9_.-]*$"


def parse_duration(value: Any) -> int:
    """Seconds from an int/float of seconds or a string "90s", "15m", "2h", "1d"."""
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r} (use seconds or 90s/15m/2h/1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = float(value)
    else:
        raise ValueError(f"bad duration {value!r} (use seconds or 90s/15m/2h/1d)")
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError(f"bad duration {value!r} (must be a whole number of seconds above 0)")
    return int(seconds)


def format_duration(seconds: int) -> str:
    """The shortest exact spelling: 900 -> "15m", 5400 -> "90m", 86400 -> "1d"."""
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[int, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    """A person (or team inbox) the plan notifies, on one or more configured notifiers."""

    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    department: str = ""
    role: str = ""
    channels: tuple[str, ...] = Field(min_length=1)  # notifier ids from the main config
    lang: str | None = Field(
        default=None, pattern=r"^(zh|en)$"
    )  # their messages' language; None = the default


class Conditions(_Strict):
    """When a level holds. Every spike condition that is set must hold (they are ANDed).

    At least one relative condition is needed: ``negative_spike``, ``negative_share`` or
    ``volume_spike``; ``surprise`` and ``tail_factor`` sharpen whichever spike is set.
    ``crisis_keyword`` is a second, independent way in: the level holds when its spike
    conditions hold OR its crisis_keyword condition holds; it may also be the only condition.
    """

    negative_spike: float | None = Field(default=None, gt=0)  # negatives in the window / baseline
    min_negative: int | None = Field(default=None, ge=1)  # absolute floor of negatives in the window
    negative_share: float | None = Field(default=None, gt=0, le=1)  # negatives / all mentions
    volume_spike: float | None = Field(default=None, gt=0)  # all mentions in the window / their baseline
    min_volume: int | None = Field(default=None, ge=1)  # absolute floor of all mentions in the window
    surprise: float | None = Field(default=None, gt=0)  # (observed - baseline) / robust spread, per spike
    tail_factor: float | None = Field(default=None, gt=0)  # surprise / the brand's usual top surprise
    # The spike also holds when the last SUSTAINED_WINDOW_SECONDS sit this many times above the brand's
    # usual top sustained-window score (alerts/sustained.py): hours of moderately raised volume.
    sustained: float | None = Field(default=None, gt=0)
    window: Duration | None = None  # how far back from now the level looks; default one bucket
    crisis_keyword: CrisisKeyword | None = None  # OR: crisis terms from a high-reach author / in several mentions

    @model_validator(mode="after")
    def _needs_a_relative_condition(self) -> Conditions:
        if self.negative_spike is None and self.negative_share is None and self.volume_spike is None:
            qualifiers = ("min_negative", "min_volume", "surprise", "tail_factor", "sustained")
            if self.crisis_keyword is not None:
                extra = [k for k in qualifiers if getattr(self, k) is not None]
                if extra:
                    raise ValueError(
                        f"{extra[0]} qualifies a spike condition: with crisis_keyword alone, remove it or set "
                        "negative_spike, negative_share or volume_spike too"
                    )
                return self
            if self.min_negative is not None:
                raise ValueError(
                    "set negative_spike and/or negative_share (min_negative alone would page on any busy day)"
                )
            raise ValueError(
                "set volume_spike, negative_spike and/or negative_share (an absolute floor alone would page on any "
                "busy day)"
            )
        if (self.negative_spike is not None or self.negative_share is not None) and self.min_negative is None:
            raise ValueError(
                "min_negative is required with negative_spike or negative_share (a floor keeps a quiet brand's "
                "blips from paging)"
            )
        if (self.surprise is not None or self.tail_factor is not None or self.sustained is not None) and (
            self.negative_spike is None and self.volume_spike is None
        ):
            raise ValueError(
                "surprise, tail_factor and sustained qualify a spike: set negative_spike and/or volume_spike too"
            )
        return self


class Level(_Strict):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    # None: the level is reached only by escalation (an unacknowledged alert of the level
    # below moves here when its deadline passes), never opened by a signal
    when: Conditions | None = None
    notify: tuple[str, ...] = ()  # contact ids
    ack_within: Duration = int(defaults.ACK_WITHIN_SECONDS)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_clock(value: Any) -> int:
    """Minutes after midnight from "HH:MM" (0..1440; "24:00" is the end of the day)."""
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)):
        hours, minutes = int(m.group(1)), int(m.group(2))
        if (hours < 24 and minutes < 60) or (hours, minutes) == (24, 0):
            return hours * 60 + minutes
    # YAML reads an unquoted 2:00 as the number 120, hence the hint about quotes.
    raise ValueError(f'bad time of day {value!r} (write "HH:MM" in quotes, e.g. "02:00")')


ClockTime = Annotated[int, BeforeValidator(parse_clock)]


class Silence(_Strict):
    """A one-off quiet period someone decided on: matching notifications are recorded in the
    outbox as ``muted`` (with this silence as the reason) instead of being sent."""

    brand: str | None = None  # brand id; unset = every brand
    level: str | None = None  # level id; unset = every level
    starts: datetime
    ends: datetime
    comment: str = Field(min_length=1)  # why: shown as the mute reason
    created_by: str = Field(min_length=1)  # who decided it

    @field_validator("starts", "ends")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError(f"{v.isoformat(sep=' ')!r} has no timezone (add one, e.g. +08:00)")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.ends <= self.starts:
            raise ValueError(f"ends ({self.ends.isoformat()}) must be after starts ({self.starts.isoformat()})")
        return self


class MaintenanceWindow(_Strict):
    """A recurring window (e.g. a weekly export-tool maintenance) during which notifications
    are held until the window ends (``action: hold``) or recorded as muted (``suppress``)."""

    days: tuple[str, ...] = Field(default=WEEKDAYS, min_length=1)  # days the window starts on
    start: ClockTime = Field(alias="from")  # local time the window opens, "HH:MM"
    end: ClockTime = Field(alias="to")  # local time it closes; at or before `from` = the next day
    timezone: str = "UTC"  # IANA name the times are in, e.g. Asia/Shanghai
    brands: tuple[str, ...] = ()  # brand ids; empty = every brand
    levels: tuple[str, ...] = ()  # level ids; empty = every level
    action: Literal["hold", "suppress"] = "hold"
    comment: str = ""

    @field_validator("days")
    @classmethod
    def _days(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in v if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown day {bad[0]!r} (valid: {', '.join(WEEKDAYS)})")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> MaintenanceWindow:
        if self.start == 1440:
            raise ValueError('from must be before "24:00"')
        if self.start == self.end:  # ("00:00" to "24:00" is the whole day, and fine)
            raise ValueError("from and to are the same time: the window would be empty")
        return self


class CrisisPlan(_Strict):
    """A validated crisis response plan. Build it with :func:`load_plan`."""

    bucket: Duration = defaults.BUCKET_SECONDS
    baseline_days: int = Field(default=defaults.BASELINE_DAYS, ge=1, le=90)
    # Buckets either side of the same time of day also sampled for the baseline (0 = exactly it).
    baseline_neighbours: int = Field(default=0, ge=0, le=defaults.BASELINE_MAX_NEIGHBOURS)
    resolve_after: Duration = int(defaults.RESOLVE_AFTER_SECONDS)
    repeat_every: Duration = int(defaults.REPEAT_EVERY_SECONDS)
    contacts: tuple[Contact, ...] = ()
    levels: tuple[Level, ...] = Field(min_length=1)  # least -> most severe
    silences: tuple[Silence, ...] = ()  # one-off quiet periods (alerts/mute.py)
    maintenance: tuple[MaintenanceWindow, ...] = ()  # recurring windows (alerts/mute.py)

    def level(self, level_id: str) -> Level:
        for lvl in self.levels:
            if lvl.id == level_id:
                return lvl
        raise KeyError(level_id)

    def level_index(self, level_id: str) -> int:
        """Position of a level (0 = least severe); levels no longer in the plan rank lowest."""
        for i, lvl in enumerate(self.levels):
            if lvl.id == level_id:
                return i
        return -1

    def next_level(self, level_id: str) -> Level | None:
        i = self.level_index(level_id)
        return self.levels[i + 1] if 0 <= i < len(self.levels) - 1 else None

    def contact(self, contact_id: str) -> Contact:
        for c in self.contacts:
            if c.id == contact_id:
                return c
        raise KeyError(contact_id)

    def window_seconds(self, level: Level) -> int:
        """The level's detection window, rounded up to whole buckets."""
        window = (level.when.window if level.when is not None else None) or self.bucket
        return -(-window // self.bucket) * self.bucket


def _keys(model: type[BaseModel]) -> set[str]:
    keys = {f.alias or name for name, f in model.model_fields.items()}  # as written in the file
    for f in model.model_fields.values():
        for arg in (f.annotation, *getattr(f.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                keys |= _keys(arg)
    return keys


PLAN_KEYS: frozenset[str] = frozenset(_keys(CrisisPlan))  # every key a plan may have (docs test)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pydantic_problems(exc: ValidationError, file: str | None) -> list[ConfigError]:
    problems = []
    errors = exc.errors(include_url=False)
    locs = [tuple(e["loc"]) for e in errors]
    for err in errors:
        # Drop pydantic's internal location parts (function-after[...], union members).
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or "[" not in str(p))
        kind = err["type"]
        if kind == "too_short" and any(
            len(o) > len(err["loc"]) and o[: len(err["loc"])] == tuple(err["loc"]) for o in locs
        ):
            continue  # pydantic counts only the valid items; the invalid ones are reported below
        if kind == "too_short" and not err["input"]:
            msg = "must not be empty"
        elif kind == "missing":
            msg = "required key missing"
        elif kind == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}" if loc else "unknown key"
        elif kind == "value_error":
            msg = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        elif kind == "string_pattern_mismatch":
            msg = (
                f"{err['input']!r} is not a valid id (lower-case letters, digits, '-', '_', '.')"
                if loc and loc[-1] == "id"
                else f"{err['input']!r} is not allowed here ({err['msg']})"
            )
        else:
            msg = (
                f"{err['msg']} (got {err['input']!r})"
                if not isinstance(err["input"], dict | list)
                else err["msg"]
            )
        problems.append(ConfigError(msg, file=file, key_path=_path(loc) or None))
    return problems


def _cross_problems(
    data: Mapping[str, Any], notifier_ids: Collection[str] | None, file: str | None
) -> list[ConfigError]:
    """References between parts of the plan; tolerant of parts pydantic already rejected."""
    problems: list[ConfigError] = []
    raw_contacts, raw_levels = data.get("contacts"), data.get("levels")
    contacts: list[Any] = raw_contacts if isinstance(raw_contacts, list) else []
    levels: list[Any] = raw_levels if isinstance(raw_levels, list) else []
    known_channels = ", ".join(sorted(notifier_ids or ())) or "none configured"

    contact_ids: list[str] = []
    for i, c in enumerate(contacts):
        if not isinstance(c, Mapping):
            continue
        cid = c.get("id")
        if isinstance(cid, str):
            if cid in contact_ids:
                problems.append(
                    ConfigError(f"duplicate contact id {cid!r}", file=file, key_path=f"contacts[{i}].id")
                )
            contact_ids.append(cid)
        channels = c.get("channels")
        for j, ch in enumerate(channels if isinstance(channels, list) else []):
            if isinstance(ch, str) and notifier_ids is not None and ch not in notifier_ids:
                problems.append(
                    ConfigError(
                        f"unknown notifier {ch!r} (known: {known_channels})",
                        file=file,
                        key_path=f"contacts[{i}].channels[{j}]",
                    )
                )

    known_contacts = ", ".join(sorted(set(contact_ids))) or "no contacts defined"
    level_ids: list[str] = []
    for i, lvl in enumerate(levels):
        if not isinstance(lvl, Mapping):
            continue
        lid = lvl.get("id")
        if isinstance(lid, str):
            if lid in level_ids:
                problems.append(
                    ConfigError(f"duplicate level id {lid!r}", file=file, key_path=f"levels[{i}].id")
                )
            level_ids.append(lid)
        if i == 0 and lvl.get("when") is None:
            problems.append(
                ConfigError(
                    "the least severe level needs `when:` conditions (only higher levels may be "
                    "reached by escalation alone)",
                    file=file,
                    key_path="levels[0].when",
                )
            )
        notify = lvl.get("notify")
        for j, who in enumerate(notify if isinstance(notify, list) else []):
            if isinstance(who, str) and who not in contact_ids:
                problems.append(
                    ConfigError(
                        f"unknown contact {who!r} (known: {known_contacts})",
                        file=file,
                        key_path=f"levels[{i}].notify[{j}]",
                    )
                )
    return problems


def _mute_problems(
    data: Mapping[str, Any], brand_ids: Collection[str] | None, file: str | None
) -> list[ConfigError]:
    """Levels (and, when known, brands) named by silences and maintenance windows must exist."""
    problems: list[ConfigError] = []
    raw_levels = data.get("levels")
    level_ids = [
        lvl.get("id") for lvl in (raw_levels if isinstance(raw_levels, list) else []) if isinstance(lvl, Mapping)
    ]
    known_levels = ", ".join(str(i) for i in level_ids if isinstance(i, str)) or "no levels defined"
    known_brands = ", ".join(sorted(brand_ids or ())) or "no brands configured"

    def check(value: Any, known: Collection[Any] | None, what: str, listing: str, where: str) -> None:
        if isinstance(value, str) and known is not None and value not in known:
            problems.append(ConfigError(f"unknown {what} {value!r} (known: {listing})", file=file, key_path=where))

    for key, single in (("silences", True), ("maintenance", False)):
        entries = data.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, Mapping):
                continue
            if single:
                check(entry.get("level"), level_ids, "level", known_levels, f"{key}[{i}].level")
                check(entry.get("brand"), brand_ids, "brand", known_brands, f"{key}[{i}].brand")
                continue
            for field, known, what, listing in (
                ("levels", level_ids, "level", known_levels),
                ("brands", brand_ids, "brand", known_brands),
            ):
                values = entry.get(field)
                for j, v in enumerate(values if isinstance(values, list) else []):
                    check(v, known, what, listing, f"{key}[{i}].{field}[{j}]")
    return problems


def _sort_key(err: ConfigError) -> list[Any]:
    # Report problems in file order: by key path, numbers compared as numbers.
    return [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[\[\].]+", err.key_path or "") if p
    ]


def load_plan(
    data: Mapping[str, Any] | str | Path,
    *,
    file: str | None = None,
    notifier_ids: Collection[str] | None,
    brand_ids: Collection[str] | None = None,
) -> CrisisPlan:
    """Parse and validate a crisis plan.

    Args:
        data: the parsed YAML mapping (e.g. inline in the main config), or a path to a YAML file.
        file: the name to show in error messages (defaults to the path when one is given).
        notifier_ids: ids of the notifiers configured in the main config; every contact
            channel must be one of them. None accepts any (checking a plan on its own).
        brand_ids: ids of the configured brands; silences and maintenance windows must name
            one of them. None accepts any.

    Raises:
        ConfigError / ConfigErrors naming every problem at once.
    """
    if isinstance(data, str | Path):
        path = Path(data)
        file = file or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read crisis plan: {exc.strerror or exc}", file=file) from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"not valid YAML: {problem}", file=file, key_path=where) from None
        data = loaded if loaded is not None else {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"a crisis plan is a mapping of keys, got {type(data).__name__}", file=file)

    problems: list[ConfigError] = []
    plan: CrisisPlan | None = None
    try:
        plan = CrisisPlan.model_validate(dict(data))
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, file))
    problems.extend(_cross_problems(data, set(notifier_ids) if notifier_ids is not None else None, file))
    problems.extend(_mute_problems(data, set(brand_ids) if brand_ids is not None else None, file))
    if problems:
        ConfigErrors.collect(sorted(problems, key=_sort_key))
    assert plan is not None
    return plan
