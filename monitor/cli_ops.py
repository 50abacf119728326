"""Operations commands: ``brandpulse db upgrade|current|prune`` and ``brandpulse status``.

Each takes the database from ``--db URL`` or from a config file (``-c``, default
$BRANDPULSE_CONFIG or ./brandpulse.yaml), so an operator can point them at production
without the notifiers' secrets: only ``storage.url``/``storage.url_env`` is needed.

    brandpulse db upgrade -c /etc/brandpulse.yaml      # before starting a new version
    brandpulse db current --check                       # exit 1 unless the schema is at this version's head
    brandpulse db prune --dry-run                       # what retention would delete now
    brandpulse status --json                            # sources, open alerts, outbox
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.errors import BrandPulseError, ConfigError
from monitor.settings import Config, load_config, resolve_sqlite_url

DEFAULT_CONFIG = "brandpulse.yaml"


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=None,
                   help="config file whose storage.url to use (default: $BRANDPULSE_CONFIG or ./brandpulse.yaml)")
    p.add_argument("--db", default=None,
                   help="storage URL instead of the config's (relative SQLite paths: from the current folder), "
                        "e.g. postgresql+psycopg://brandpulse@db:5432/brandpulse")


def add_commands(sub: Any) -> None:
    """Register ``db`` and ``status`` on the main parser's subcommands."""
    p = sub.add_parser("db", help="database schema and retention: upgrade, current, prune")
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = dsub.add_parser("upgrade", help="migrate the schema to this version's newest revision; prints from -> to")
    _store_args(a)
    a = dsub.add_parser("current", help="the schema revision of the database and the one this version ships")
    _store_args(a)
    a.add_argument("--check", action="store_true", help="exit 1 unless the database is at this version's head")
    a = dsub.add_parser("prune", help="run the retention prune now (storage.retention), or show what it would do")
    _store_args(a)
    a.add_argument("--dry-run", action="store_true", help="count what would be pruned; change nothing")
    a.add_argument("--raw-days", type=int, default=None, help="override storage.retention.raw_days")
    a.add_argument("--aggregates-days", type=int, default=None,
                   help="override storage.retention.aggregates_days")
    a.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("status", help="sources (last success, lag, errors), open alerts and the outbox, "
                                      "from the store")
    _store_args(p)
    p.add_argument("--json", action="store_true", help="print the status as JSON")


def _config(args: argparse.Namespace, *, required: bool) -> Config | None:
    """The config named by -c (or the default file); None when --db is given without -c."""
    if args.config is None and args.db is not None and not required:
        return None
    path = args.config or os.environ.get("BRANDPULSE_CONFIG", DEFAULT_CONFIG)
    if args.config is None and not Path(path).is_file():
        raise BrandPulseError(f"no config file {path!r}: pass -c CONFIG or --db URL")
    return load_config(path)


def _engine(args: argparse.Namespace, config: Config | None) -> Any:
    from monitor.store.engine import make_engine

    if args.db is not None:
        return make_engine(resolve_sqlite_url(args.db, Path.cwd()))
    assert config is not None
    return make_engine(config.storage_url)


def cmd_db(args: argparse.Namespace) -> int:
    from monitor.store.engine import describe
    from monitor.store.migrate import current_revision, head_revision, upgrade

    config = _config(args, required=args.action == "prune" and args.raw_days is None)
    engine = _engine(args, config)
    try:
        where = describe(engine)
        if args.action == "upgrade":
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
            if before == after:
                print(f"{where}: already at {after} (head)")
            else:
                print(f"{where}: upgraded from {before or 'an empty database'} to {after}")
            return 0
        if args.action == "current":
            rev, head = current_revision(engine), head_revision()
            if rev == head:
                print(f"{where}: at {rev} (head)")
            elif rev is None:
                print(f"{where}: empty (no BrandPulse schema); this version ships {head}: run `brandpulse db upgrade`")
            elif rev in _known_revisions():
                print(f"{where}: at {rev}; this version ships {head}: run `brandpulse db upgrade`")
            else:
                print(f"{where}: at {rev}, a revision this version does not know (written by a newer BrandPulse; "
                      f"this one ships {head})")
            return 1 if args.check and rev != head else 0
        return _prune(args, config, engine)
    finally:
        engine.dispose()


def _known_revisions() -> set[str]:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from monitor.store.migrate import MIGRATIONS

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}


def _prune(args: argparse.Namespace, config: Config | None, engine: Any) -> int:
    from monitor.housekeeping import check_retention
    from monitor.settings import RetentionSettings
    from monitor.store import retention
    from monitor.store.migrate import current_revision, head_revision

    base = config.retention if config is not None else RetentionSettings()
    raw_days = args.raw_days if args.raw_days is not None else base.raw_days
    aggregates_days = args.aggregates_days if args.aggregates_days is not None else base.aggregates_days
    if raw_days is None:
        raise ConfigError("retention is off: set storage.retention.raw_days in the config or pass --raw-days",
                          file=config.file if config else None)
    try:
        settings = RetentionSettings(raw_days=raw_days, aggregates_days=aggregates_days)
    except ValidationError as exc:
        where = ", ".join(f"{'.'.join(map(str, e['loc'])) or 'retention'}: {e['msg'].removeprefix('Value error, ')}"
                          for e in exc.errors())
        raise BrandPulseError(f"db prune: {where}") from None
    note = ""
    if config is not None and config.plan is not None:
        from alerts.plan import load_plan

        plan = load_plan(config.plan, file=config.plan_file, notifier_ids={n.id for n in config.notifiers},
                         brand_ids={b.id for b in config.brands})
        check_retention(dataclasses.replace(config, retention=settings), plan)
    else:
        note = " (raw_days not checked against a crisis plan: pass -c CONFIG)"
    rev, head = current_revision(engine), head_revision()
    if rev != head:
        raise BrandPulseError(f"database at schema {rev}, prune needs {head}: run `brandpulse db upgrade` first")
    result = retention.prune(engine, datetime.now(UTC), raw_days=raw_days, aggregates_days=aggregates_days,
                             dry_run=args.dry_run)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0
    verb = "would prune" if args.dry_run else "pruned"
    keep = (f"aggregates before {result.aggregates_cutoff}" if result.aggregates_cutoff
            else "no aggregates (kept forever)")
    oldest = f"; oldest mention published {result.oldest:%Y-%m-%d}" if result.oldest else "; no mentions stored"
    print(f"{verb} {result.mentions} mentions published before {result.raw_cutoff:%Y-%m-%d} (kept as daily counts)"
          f" and {result.aggregate_rows} daily count rows: {keep}{oldest}{note}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.status import render, snapshot

    config = _config(args, required=False)
    engine = _engine(args, config)
    try:
        sources = {s.id: s.interval for s in config.sources if s.enabled} if config is not None else None
        snap = snapshot(engine, datetime.now(UTC), sources=sources)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(snap, ensure_ascii=False, indent=2))
    else:
        print(render(snap))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"db": cmd_db, "status": cmd_status}
