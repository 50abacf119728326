"""``brandpulse report``: the weekly or monthly report as an HTML page, Markdown or PDF.

    brandpulse report --period week --brand qinghe --format html --out qinghe-week.html -c brandpulse.yaml
    brandpulse report --period month --end 2026-10-31 --format md --out october.md --db sqlite:///bp.db

With a config the report knows the brands' names, every brand for share of voice and the
plan's acknowledgement deadlines; with only ``--db`` it reports on the brands found in the
store and leaves the deadline column empty. Registered in monitor/cli.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import BrandPulseError

DEFAULT_CONFIG = "brandpulse.yaml"


def add_report_parser(sub: Any) -> None:
    """Add the ``report`` sub-command to the top-level sub-parsers."""
    p = sub.add_parser(
        "report", help="write the weekly or monthly report (HTML, Markdown or PDF)",
        description="The weekly summary or monthly report the crisis plans ask for: mention volume and trend, "
                    "sentiment split, share of voice, top platforms, sources and voices (KOL/KOC), top keywords, "
                    "incidents with detect -> ack -> resolve times against the plan's deadlines.")
    p.add_argument("--period", choices=["week", "month"], required=True,
                   help="week: seven days ending on --end; month: the calendar month of --end, up to --end")
    p.add_argument("--end", default=None,
                   help="last day included: an ISO date, 'today' or 'yesterday' (default: the last complete "
                        "Mon-Sun week / calendar month)")
    p.add_argument("--brand", default=None, help="brand id to report on (default: all brands together)")
    p.add_argument("--format", choices=["html", "md", "pdf"], default="html",
                   help="html: one self-contained page (charts embedded); md: Markdown + a <name>-charts/ folder; "
                        "pdf: printed by headless Chromium (Debian package chromium) - pdf is offered only where "
                        "Chromium is installed")
    p.add_argument("--out", required=True, help="file to write")
    p.add_argument("--lang", choices=["zh", "en"], default=None,
                   help="zh (Chinese titles, English subtitles) or en (default: reports.language, else zh)")
    p.add_argument("--tz", default=None, help="time zone of the report's days (default: reports.timezone, "
                                              "else Asia/Shanghai)")
    p.add_argument("--config", "-c", default=None,
                   help="config file (default: $BRANDPULSE_CONFIG or ./brandpulse.yaml; optional with --db)")
    p.add_argument("--db", default=None,
                   help="storage URL overriding the config's (relative SQLite paths: from the current folder), "
                        "e.g. sqlite:///brandpulse-data/demo.db for the demo")


def _config_path(args: argparse.Namespace) -> str | None:
    if args.config:
        return str(args.config)
    default = os.environ.get("BRANDPULSE_CONFIG", DEFAULT_CONFIG)
    if args.db and not Path(default).is_file():
        return None  # --db alone: report on what the store holds
    return default


def cmd_report(args: argparse.Namespace) -> int:
    from alerts.plan import CrisisPlan, load_plan
    from monitor import defaults
    from monitor.reports.build import build_report, find_chromium
    from monitor.reports.data import brands_in_store
    from monitor.reports.period import parse_end
    from monitor.settings import load_config, resolve_sqlite_url
    from monitor.store.engine import make_engine
    from monitor.store.migrate import upgrade

    if args.format == "pdf" and find_chromium() is None:  # before any work
        from monitor.reports.build import PDF_NEEDS

        raise BrandPulseError(PDF_NEEDS)
    path = _config_path(args)
    config = load_config(path) if path else None
    if config is not None and args.db:
        config = dataclasses.replace(config, storage_url=resolve_sqlite_url(args.db, Path.cwd()))
    url = config.storage_url if config is not None else resolve_sqlite_url(args.db, Path.cwd())
    reports = config.reports if config is not None else None
    tz_name = args.tz or (reports.timezone if reports else defaults.REPORT_TIMEZONE)
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BrandPulseError(f"--tz: unknown time zone {tz_name!r} (an IANA name such as Asia/Shanghai)") from None
    lang = args.lang or (reports.language if reports else "zh")
    now = datetime.now(UTC)
    end = parse_end(args.end, now.astimezone(tz).date())
    plan: CrisisPlan | None = None
    if config is not None and config.plan is not None:
        plan = load_plan(config.plan, file=config.plan_file, notifier_ids={n.id for n in config.notifiers},
                         brand_ids={b.id for b in config.brands})
    engine = make_engine(url)
    try:
        upgrade(engine)
        if config is not None:
            brands = [(b.id, b.name) for b in config.brands]
        else:
            with engine.connect() as conn:
                brands = brands_in_store(conn)
        report = build_report(engine, args.period, end=end, brand=args.brand, brands=brands, plan=plan, now=now,
                              tz=tz, lang=lang)
    finally:
        engine.dispose()
    written = report.write(args.format, Path(args.out))
    d = report.data
    print(written[0])
    print(f"{args.period} {d.period.first_day}..{d.period.last_day} ({tz.key}): {d.total} mentions, "
          f"{d.kpi.incidents} incidents; {len(written)} file(s) written", file=sys.stderr)
    return 0

