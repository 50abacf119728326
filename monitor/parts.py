"""What a config builds without touching the network or the store: sources, notifiers, the
crisis plan and the secrets named by ``*_env`` keys, with every problem collected into one
ConfigErrors. The daemon, ``check-config``, ``drill`` and reload all build through here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from alerts.notify import build_notifier
from alerts.notify.base import Notifier
from alerts.plan import CrisisPlan, load_plan
from monitor.auth import read_tokens
from monitor.clock import Clock
from monitor.errors import ConfigError, ConfigErrors
from monitor.housekeeping import check_retention
from monitor.settings import Config
from sources import build_source
from sources.base import Source


@dataclass
class Parts:
    """What a config builds without touching the network or the store."""

    sources: list[tuple[Source, float]] = field(default_factory=list)  # (source, interval seconds)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    plan: CrisisPlan | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # role -> token (http.auth.*_token_env; monitor.auth)
    session_secret: str | None = None  # key signing login cookies (http.auth.session_secret_env)
    link_secret: str | None = None  # key signing ack links (http.link_secret_env)


def build_parts(config: Config, clock: Clock) -> Parts:
    """Build sources, notifiers and the plan, collecting every problem into one ConfigErrors."""
    parts = Parts()
    problems: list[ConfigError] = []

    def prefixed(exc: ConfigError, prefix: str) -> list[ConfigError]:
        errs = exc.errors if isinstance(exc, ConfigErrors) else [exc]
        return [ConfigError(e.problem, file=e.file or config.file,
                            key_path=f"{prefix}.{e.key_path}" if e.key_path else prefix) for e in errs]

    for i, s in enumerate(config.sources):
        if not s.enabled:
            continue
        try:
            source = build_source(s.id, s.kind, s.options, base_dir=config.base_dir, clock=clock)
        except ConfigError as exc:
            problems += prefixed(exc, f"sources[{i}]")
        else:
            parts.sources.append((source, s.interval))
    for i, n in enumerate(config.notifiers):
        try:
            parts.notifiers[n.id] = build_notifier(n.id, n.kind, n.options)
        except ConfigError as exc:
            problems += prefixed(exc, f"notifiers[{i}]")
    if config.plan is None:
        problems.append(ConfigError("no crisis plan: set `plan:` to a plan file or an inline plan",
                                    file=config.file, key_path="plan"))
    else:
        try:
            parts.plan = load_plan(config.plan, file=config.plan_file, notifier_ids=set(parts.notifiers)
                                   | {n.id for n in config.notifiers}, brand_ids={b.id for b in config.brands})
        except ConfigError as exc:
            problems += exc.errors if isinstance(exc, ConfigErrors) else [exc]
        try:  # storage.retention.raw_days must not prune what the plan's detectors read
            check_retention(config, parts.plan)
        except ConfigError as exc:
            problems.append(exc)
    parts.tokens, auth_problems = read_tokens(config.http, os.environ, config.file)
    problems += auth_problems
    if config.http.auth.session_secret_env:
        parts.session_secret = os.environ.get(config.http.auth.session_secret_env) or None
    if (name := config.http.link_secret_env) is not None:
        parts.link_secret = os.environ.get(name) or None
        if parts.link_secret is None:  # named but missing: fail at startup, not with a puzzling 403 later
            problems.append(ConfigError(f"environment variable {name!r} is not set", file=config.file,
                                        key_path="http.link_secret_env"))
    if problems:
        for source, _ in parts.sources:
            source.close()
    ConfigErrors.collect(problems)
    return parts
