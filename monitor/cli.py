"""The ``brandpulse`` command. Every BrandPulseError becomes one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor import __version__, cli_nlp
from monitor.cli_history import HISTORY_COMMANDS, add_history_commands
from monitor.cli_ops import COMMANDS as OPS_COMMANDS
from monitor.cli_ops import add_commands as add_ops_commands
from monitor.cli_report import add_report_parser, cmd_report
from monitor.errors import BrandPulseError, ConfigError, ConfigErrors
from monitor.logsetup import setup_logging
from monitor.settings import Config, load_config, resolve_sqlite_url

if TYPE_CHECKING:
    from alerts.plan import CrisisPlan

DEFAULT_CONFIG = "brandpulse.yaml"


def project_dir() -> Path:
    """Where the shipped config/ folder lives: $BRANDPULSE_HOME, else the source checkout."""
    home = os.environ.get("BRANDPULSE_HOME")
    return Path(home) if home else Path(__file__).resolve().parent.parent


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=os.environ.get("BRANDPULSE_CONFIG", DEFAULT_CONFIG),
                   help="config file (default: $BRANDPULSE_CONFIG or ./brandpulse.yaml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brandpulse",
        description="Social listening and crisis monitoring daemon: brand mentions, sentiment, "
                    "spike alerts along a crisis response plan.")
    parser.add_argument("--version", action="version", version=f"brandpulse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run the daemon on a config file")
    _config_arg(p)
    p.add_argument("--listen", help="HOST:PORT for /metrics, /healthz and the API (overrides http.listen)")
    p.add_argument("--once", action="store_true",
                   help="poll every source once, evaluate alerts, deliver notifications, exit")

    p = sub.add_parser("demo", help="run the daemon on the bundled demo (SQLite in ./brandpulse-data)")
    p.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:9108)")
    p.add_argument("--data", default="brandpulse-data", help="folder for the demo database (default ./brandpulse-data)")
    p.add_argument("--once", action="store_true", help="ingest the whole demo stream, alert, exit")
    p.add_argument("--keep", action="store_true",
                   help="continue the previous demo run's database instead of replaying from scratch")

    p = sub.add_parser("check-config", help="validate a config file and its plan; print every problem")
    p.add_argument("file")

    p = sub.add_parser("check-plan", help="validate a crisis plan file on its own; print every problem")
    p.add_argument("file")
    p.add_argument("--config", "-c", default=None,
                   help="also check contact channels and silence/maintenance brands against this config "
                        "(without it, any notifier id is accepted)")

    p = sub.add_parser("drill", help="run a crisis drill: a simulated alert through the real engine and channels")
    _config_arg(p)
    p.add_argument("--brand", required=True, help="brand id the simulated incident is about")
    p.add_argument("--level", required=True, help="plan level to start at (its contacts are notified)")
    p.add_argument("--by", default="drill", help="who runs the drill (recorded in the alert's timeline)")
    p.add_argument("--note", default="", help="scenario, shown in the alert summary")
    p.add_argument("--no-send", action="store_true",
                   help="only queue the notifications; the running daemon delivers them")

    p = sub.add_parser("backtest", help="replay the detector, no look-ahead: over count series (--counts) or "
                                         "over a brand's stored history (--brand)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--counts", nargs="+", metavar="FILE.csv",
                      help="one or more timestamp,value CSV files (one bucket per row); needs --out")
    what.add_argument("--brand", help="brand id: print what the plan would have paged over its stored mentions")
    p.add_argument("--out", help="with --counts: folder for alerts_<SERIES>.csv (timestamp,is_alert,level)")
    p.add_argument("--plan", default=None,
                   help="crisis plan to replay (default: --counts the built-in backtest plan, --brand the config's)")
    p.add_argument("--since", default="30d", help="with --brand: start, a duration back from now (30d) or an ISO date")
    p.add_argument("--until", default=None, help="with --brand: end, an ISO date or time (default: now)")
    _config_arg(p)

    cli_nlp.add_parsers(sub, project_dir().parent / "shared" / "data" / "sentiment")  # train, eval, explain

    p = sub.add_parser("alerts", help="list, show, acknowledge or resolve alerts")
    _config_arg(p)
    p.add_argument("--db", default=None,
                   help="storage URL overriding the config's (relative SQLite paths: from the current folder), "
                        "e.g. sqlite:///brandpulse-data/demo.db for the demo")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("list", help="list alerts")
    a.add_argument("--state", choices=["firing", "acknowledged", "escalated", "resolved"])
    a.add_argument("--brand")
    a.add_argument("--limit", type=int, default=50)
    a = asub.add_parser("show", help="one alert with its evidence and timeline")
    a.add_argument("id", type=int)
    a = asub.add_parser("kpi", help="crisis KPIs: incidents, time to acknowledge and resolve, opinion control")
    a.add_argument("--since", default="90d", help="start: a duration back from now (90d, 12h) or an ISO date")
    a.add_argument("--until", default=None, help="end: an ISO date or time (default: now)")
    a.add_argument("--drills", action="store_true", help="the drill report: drill alerts only")
    a.add_argument("--include-drills", action="store_true", help="count drills together with real incidents")
    a.add_argument("--recovery-hours", type=float, default=24.0,
                   help="hours after resolution in which negative share must be back to baseline (default 24)")
    a.add_argument("--json", action="store_true", help="print the KPIs as JSON")
    for name in ("ack", "resolve"):
        a = asub.add_parser(name, help=f"{'acknowledge' if name == 'ack' else 'resolve'} an alert")
        a.add_argument("id", type=int)
        a.add_argument("--by", required=True, help="who is acting (recorded in the alert's timeline)")
        a.add_argument("--note", default="", help="why (recorded)")
    add_ops_commands(sub)  # db upgrade|current|prune, status (monitor/cli_ops.py)
    add_report_parser(sub)
    add_history_commands(sub)  # mentions, export, correct (monitor/cli_history.py)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigErrors as exc:
        for line in exc.lines():
            print(f"brandpulse: {line}", file=sys.stderr)
        return 1
    except BrandPulseError as exc:
        print(f"brandpulse: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _load(path: str) -> Config:
    return load_config(path)


def cmd_run(args: argparse.Namespace, config: Config | None = None) -> int:
    from monitor.daemon import Daemon

    config = config or _load(args.config)
    setup_logging(config.logging.level, config.logging.format)
    daemon = Daemon(config, listen=args.listen)
    if args.once:
        try:
            summary = daemon.run_once()
        finally:
            daemon.stop()
        print(json.dumps(summary))
        return 0
    daemon.run_forever()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    config = _load(str(project_dir() / "config" / "demo.yaml"))
    data = Path(args.data).resolve()
    data.mkdir(parents=True, exist_ok=True)
    db = data / "demo.db"
    if not args.keep:  # the demo replays its week on every run, so the crisis pages every time
        for path in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
            path.unlink(missing_ok=True)
    config = dataclasses.replace(config, storage_url=f"sqlite:///{db}")
    return cmd_run(args, config)


def cmd_check_config(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.parts import build_parts

    config = _load(args.file)
    parts = build_parts(config, SystemClock())
    for source, _ in parts.sources:
        source.close()
    from monitor.reports.schedule import resolve_targets

    resolve_targets(config, parts.plan, parts.notifiers)  # reports.*.notify / brands, as the daemon checks them
    print(f"{args.file}: ok ({len(config.brands)} brands, {len(parts.sources)} sources, "
          f"{len(parts.notifiers)} notifiers, {len(parts.plan.levels) if parts.plan else 0} plan levels)")
    return 0


def cmd_check_plan(args: argparse.Namespace) -> int:
    from alerts.plan import load_plan

    notifier_ids: set[str] | None = None
    brand_ids: set[str] | None = None
    if args.config:
        config = _load(args.config)
        notifier_ids = {n.id for n in config.notifiers}
        brand_ids = {b.id for b in config.brands}
    plan = load_plan(Path(args.file), notifier_ids=notifier_ids, brand_ids=brand_ids)
    note = "" if args.config else "; channels and brands not checked (pass --config)"
    print(f"{args.file}: ok ({len(plan.levels)} levels, {len(plan.contacts)} contacts, "
          f"{len(plan.silences)} silences, {len(plan.maintenance)} maintenance windows){note}")
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from alerts.dispatch import Dispatcher
    from alerts.engine import AlertEngine
    from alerts.mute import PlanMuter
    from monitor.clock import SystemClock
    from monitor.metrics import Metrics
    from monitor.parts import build_parts
    from monitor.store.engine import make_engine
    from monitor.store.migrate import upgrade

    config = _load(args.config)
    brands = {b.id: b.name for b in config.brands}
    if args.brand not in brands:
        raise BrandPulseError(f"cannot start a drill: unknown brand {args.brand!r} (known: {', '.join(brands)})")
    clock = SystemClock()
    parts = build_parts(config, clock)
    for source, _ in parts.sources:
        source.close()
    assert parts.plan is not None
    engine = make_engine(config.storage_url)
    try:
        upgrade(engine)
        metrics = Metrics(CollectorRegistry())
        change = AlertEngine(engine, parts.plan, clock, metrics, brand_names=brands).drill(
            args.brand, args.level, by=args.by, note=args.note)
        sent = 0
        if not args.no_send:  # the outbox hands each row to one sender, daemon or us
            dispatcher = Dispatcher(engine, parts.notifiers, clock, metrics, language=config.alerts.language,
                                    base_url=config.http.base_url, link_secret=parts.link_secret,
                                    muter=PlanMuter(parts.plan), claim_seconds=config.alerts.claim_timeout)
            while (n := dispatcher.drain()) > 0:
                sent += n
    finally:
        engine.dispose()
    alert = change.alert
    print(alert.id)
    print(f"drill alert {alert.id}: {alert.brand} at level {alert.level}, {change.notifications} notifications "
          f"queued, {sent} handled now; acknowledge with: brandpulse alerts ack {alert.id} --by NAME",
          file=sys.stderr)
    return 0


def _when_arg(value: str, name: str, now: datetime) -> datetime:
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*[smhd]\s*", value):
        from alerts.plan import parse_duration

        return now - timedelta(seconds=parse_duration(value))
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BrandPulseError(f"{name}: expected a duration back from now (90d, 12h) or an ISO date, "
                              f"got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    return " ".join([f"{n}{u}" for n, u in parts if n][:2]) or "0s"  # "2h 5m": two units are enough


def _print_kpis(k: dict[str, Any]) -> None:
    by_level = ", ".join(f"{lvl} {n}" for lvl, n in k["by_level"].items())
    print(f"crisis KPIs {k['since'][:16]} .. {k['until'][:16]} (drills {k['drills']})")
    print(f"incidents: {k['incidents']}" + (f" ({by_level})" if by_level else "") + f"; still open: {k['open']}")
    for key, label, missing in (("time_to_ack", "time to acknowledge", "unacknowledged"),
                                ("time_to_resolve", "time to resolve", "unresolved")):
        t = k[key]
        print(f"{label}: median {_span(t['median_seconds'])}, p90 {_span(t['p90_seconds'])} "
              f"({t['count']} done, {t[missing]} {missing})")
        for lvl, s in t["by_level"].items():
            print(f"  {lvl}: median {_span(s['median_seconds'])}, p90 {_span(s['p90_seconds'])} ({s['count']})")
    c = k["control"]
    if k["drills"] != "only":
        share = f" ({c['share']:.0%})" if c["share"] is not None else ""
        print(f"opinion control: {c['returned']} of {c['evaluated']} resolved incidents back to baseline negative "
              f"share within {c['recovery_hours']:g}h{share}; {c['pending']} still in their recovery window")


def cmd_alerts(args: argparse.Namespace) -> int:
    from alerts import records
    from alerts.engine import AlertEngine
    from monitor.clock import SystemClock
    from monitor.store.engine import make_engine
    from monitor.store.migrate import upgrade

    config = _load(args.config)
    if args.db:
        config = dataclasses.replace(config, storage_url=resolve_sqlite_url(args.db, Path.cwd()))
    engine = make_engine(config.storage_url)
    upgrade(engine)
    try:
        if args.action == "list":
            with engine.connect() as conn:
                rows = records.list_alerts(conn, state=args.state, brand=args.brand, limit=args.limit)
            for a in rows:
                print(f"{a.id}\t{a.state.value}\t{a.brand}\t{a.level}\t{a.opened_at:%Y-%m-%d %H:%M}Z\t{a.summary}")
            if not rows:
                print("no alerts")
        elif args.action == "kpi":
            from alerts.kpi import crisis_kpis

            now = datetime.now(UTC)
            until = _when_arg(args.until, "--until", now) if args.until else now
            since = _when_arg(args.since, "--since", until if args.until else now)
            if until <= since:
                raise BrandPulseError(f"--since ({since.isoformat()}) must be before --until ({until.isoformat()})")
            with engine.connect() as conn:
                kpis = crisis_kpis(conn, since, until, include_drills=args.include_drills,
                                   only_drills=args.drills, recovery_hours=args.recovery_hours)
            if args.json:
                print(json.dumps(kpis, ensure_ascii=False, indent=2))
            else:
                _print_kpis(kpis)
        elif args.action == "show":
            with engine.connect() as conn:
                alert = records.get_alert(conn, args.id)
                events = records.alert_events(conn, args.id)
            print(json.dumps({"alert": dataclasses.asdict(alert), "events": events},
                             ensure_ascii=False, indent=2, default=str))
        else:
            # through the engine, so a manual resolve also queues "resolved" messages for everyone
            # who was told about the alert (the daemon's dispatcher delivers them). Only the plan
            # is needed: whoever acknowledges must not need the notifiers' secrets in their shell.
            alert_engine = AlertEngine(engine, _plan_of(config), SystemClock())
            if args.action == "ack":
                alert = alert_engine.acknowledge(args.id, by=args.by, note=args.note)
                print(f"alert {alert.id} acknowledged by {args.by}")
            else:
                alert = alert_engine.resolve(args.id, by=args.by, reason=args.note)
                print(f"alert {alert.id} resolved by {args.by}")
    finally:
        engine.dispose()
    return 0


def _plan_of(config: Config) -> CrisisPlan:
    """The config's crisis plan, validated against its notifier and brand ids, without building
    sources or notifiers (no environment secrets needed)."""
    from alerts.plan import load_plan

    if config.plan is None:
        raise ConfigError("no crisis plan: set `plan:` to a plan file or an inline plan", file=config.file,
                          key_path="plan")
    return load_plan(config.plan, file=config.plan_file, notifier_ids={n.id for n in config.notifiers},
                     brand_ids={b.id for b in config.brands})


def cmd_backtest(args: argparse.Namespace) -> int:
    from alerts.backtest import backtest_counts_file
    from alerts.plan import load_plan

    plan = load_plan(args.plan, file=args.plan, notifier_ids=None) if args.plan else None
    if args.brand is not None:
        return _backtest_history(args, plan)
    if not args.out:
        raise BrandPulseError("backtest --counts needs --out FOLDER for the alerts_<SERIES>.csv files")
    for path in args.counts:
        written = backtest_counts_file(path, args.out, plan)
        print(f"{path} -> {written}")
    return 0


def _backtest_history(args: argparse.Namespace, plan: CrisisPlan | None) -> int:
    """``backtest --brand``: the pages the plan would have sent over the stored history."""
    from alerts.replay import OPENED, format_timeline, replay_history
    from monitor.store.engine import make_engine

    config = _load(args.config)
    brands = [b.id for b in config.brands]
    if args.brand not in brands:
        raise BrandPulseError(f"cannot backtest: unknown brand {args.brand!r} (known: {', '.join(brands)})")
    plan = plan or _plan_of(config)
    now = datetime.now(UTC)
    until = _when_arg(args.until, "--until", now) if args.until else now
    since = _when_arg(args.since, "--since", until)
    if until <= since:
        raise BrandPulseError(f"--since ({since.isoformat()}) must be before --until ({until.isoformat()})")
    engine = make_engine(config.storage_url)
    try:
        with engine.connect() as conn:
            events = replay_history(conn, args.brand, since, until, plan)
    finally:
        engine.dispose()
    print(f"{args.brand}: {sum(e.action == OPENED for e in events)} incidents, {len(events)} steps from "
          f"{since:%Y-%m-%d %H:%M}Z to {until:%Y-%m-%d %H:%M}Z (nobody acknowledges in a replay: every "
          f"deadline escalates; silences not applied)")
    for line in format_timeline(events, plan):
        print(line)
    return 0


COMMANDS = {
    "run": cmd_run,
    "demo": cmd_demo,
    "check-config": cmd_check_config,
    "check-plan": cmd_check_plan,
    "drill": cmd_drill,
    "backtest": cmd_backtest,
    **cli_nlp.COMMANDS,  # train, eval, explain
    "alerts": cmd_alerts,
    "report": cmd_report,
    **OPS_COMMANDS,
    **HISTORY_COMMANDS,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
