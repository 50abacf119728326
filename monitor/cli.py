"""The ``brandpulse`` command. Every BrandPulseError becomes one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor import __version__
from monitor.errors import BrandPulseError, ConfigErrors
from monitor.logsetup import setup_logging
from monitor.settings import Config, load_config

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

    p = sub.add_parser("train", help="train the sentiment model from labelled CSV files")
    p.add_argument("--data", default=str(project_dir().parent / "shared" / "data" / "sentiment"),
                   help="folder with <name>.train.csv / <name>.dev.csv (default ../shared/data/sentiment)")
    p.add_argument("--out", default=None, help="output folder (default: the shipped nlp/model)")
    p.add_argument("--include-english", action="store_true",
                   help="also train on en_airline (CC BY-NC-SA 4.0: never ship that model)")
    p.add_argument("--sample", type=int, default=None, help="train on at most N rows per file (quick checks)")

    p = sub.add_parser("alerts", help="list, show, acknowledge or resolve alerts")
    _config_arg(p)
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("list", help="list alerts")
    a.add_argument("--state", choices=["firing", "acknowledged", "escalated", "resolved"])
    a.add_argument("--brand")
    a.add_argument("--limit", type=int, default=50)
    a = asub.add_parser("show", help="one alert with its evidence and timeline")
    a.add_argument("id", type=int)
    for name in ("ack", "resolve"):
        a = asub.add_parser(name, help=f"{'acknowledge' if name == 'ack' else 'resolve'} an alert")
        a.add_argument("id", type=int)
        a.add_argument("--by", required=True, help="who is acting (recorded in the alert's timeline)")
        a.add_argument("--note", default="", help="why (recorded)")
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
    setup_logging(config.logging.level)
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
    from monitor.daemon import build_parts

    config = _load(args.file)
    parts = build_parts(config, SystemClock())
    for source, _ in parts.sources:
        source.close()
    print(f"{args.file}: ok ({len(config.brands)} brands, {len(parts.sources)} sources, "
          f"{len(parts.notifiers)} notifiers, {len(parts.plan.levels) if parts.plan else 0} plan levels)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from nlp.train import train

    setup_logging("INFO")
    from nlp.sentiment import SHIPPED_MODEL_DIR

    out = Path(args.out) if args.out else SHIPPED_MODEL_DIR
    report = train(Path(args.data), out, include_english=args.include_english, sample=args.sample)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from alerts import records
    from alerts.engine import AlertEngine
    from monitor.clock import SystemClock
    from monitor.daemon import build_parts
    from monitor.store.engine import make_engine
    from monitor.store.migrate import upgrade

    config = _load(args.config)
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
        elif args.action == "show":
            with engine.connect() as conn:
                alert = records.get_alert(conn, args.id)
                events = records.alert_events(conn, args.id)
            print(json.dumps({"alert": dataclasses.asdict(alert), "events": events},
                             ensure_ascii=False, indent=2, default=str))
        else:
            # through the engine, so a manual resolve also queues "resolved" messages for everyone
            # who was told about the alert (the daemon's dispatcher delivers them)
            parts = build_parts(config, SystemClock())
            for source, _ in parts.sources:
                source.close()
            assert parts.plan is not None
            alert_engine = AlertEngine(engine, parts.plan, SystemClock())
            if args.action == "ack":
                alert = alert_engine.acknowledge(args.id, by=args.by, note=args.note)
                print(f"alert {alert.id} acknowledged by {args.by}")
            else:
                alert = alert_engine.resolve(args.id, by=args.by, reason=args.note)
                print(f"alert {alert.id} resolved by {args.by}")
    finally:
        engine.dispose()
    return 0


COMMANDS = {
    "run": cmd_run,
    "demo": cmd_demo,
    "check-config": cmd_check_config,
    "train": cmd_train,
    "alerts": cmd_alerts,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
