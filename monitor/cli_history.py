"""``brandpulse mentions``, ``export`` and ``correct``: mention history from a terminal.

    brandpulse mentions --db sqlite:///brandpulse-data/demo.db --brand acme --since 7d --sentiment negative
    brandpulse mentions -c brandpulse.yaml --query 乳业 --format jsonl --limit 200 --cursor <next>
    brandpulse export -c brandpulse.yaml --brand acme --since 30d --out acme.csv --bom      # Excel in China
    brandpulse correct 4711 --sentiment negative --by 王五 --note "反讽"
    brandpulse correct 4711 --irrelevant acme --by 王五

The database comes from ``--db URL`` (no config needed: an analyst's laptop may only have the
file) or from the config's ``storage.url``. Mention text is hostile input: the table strips
control characters (no terminal escape sequences reach the screen) and CSV cells that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) get a leading ``'``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from monitor import defaults
from monitor.errors import BrandPulseError
from monitor.settings import resolve_sqlite_url
from monitor.store.query import MAX_PAGE, ORDERS, MentionFilter, MentionRow, mention_dict

SENTIMENTS = ("negative", "neutral", "positive")
CSV_COLUMNS = ("id", "published_at", "source_id", "platform", "author", "author_followers", "engagement", "brands",
               "irrelevant_brands", "sentiment_label", "model_label", "sentiment_score", "corrected_by",
               "corrected_at", "title", "text", "url", "keywords", "crisis_terms", "lang", "external_id")
_FORMULA_START = tuple("=+-@\t\r＝＋－＠")


def _db_args(p: argparse.ArgumentParser) -> None:
    from monitor.cli import _config_arg

    _config_arg(p)
    p.add_argument("--db", default=None, help="storage URL instead of the config's, e.g. "
                                              "sqlite:///brandpulse-data/demo.db (relative to the current folder)")


def _selection_args(p: argparse.ArgumentParser) -> None:
    _db_args(p)
    p.add_argument("--brand", action="append", default=[], help="brand id (repeat or comma-separate for any of)")
    p.add_argument("--source", action="append", default=[], help="source id (repeat or comma-separate)")
    p.add_argument("--since", default=None, help="start: a duration back from now (7d, 12h) or an ISO date/time")
    p.add_argument("--from", dest="from_", default=None, help="start as an ISO date/time (same as --since)")
    p.add_argument("--to", default=None, help="end (exclusive): an ISO date/time or a duration back from now")
    p.add_argument("--sentiment", action="append", default=[], choices=SENTIMENTS,
                   help="effective sentiment after corrections (repeat for any of)")
    p.add_argument("--query", "-q", default=None,
                   help='text terms that must all occur ("quoted phrase" for one); 乳业 also finds 乳業')
    p.add_argument("--author", default=None, help="exact author name")
    p.add_argument("--include-irrelevant", action="store_true",
                   help="also show mentions and brands an analyst marked irrelevant")
    p.add_argument("--order", choices=ORDERS, default="newest", help="newest (default), oldest or engagement")


def add_history_commands(sub: Any) -> None:
    """Register the three commands on ``brandpulse``'s subparsers (called by monitor.cli)."""
    p = sub.add_parser("mentions", help="search stored mentions: filters, pages, table/CSV/JSON Lines")
    _selection_args(p)
    p.add_argument("--limit", type=int, default=defaults.HISTORY_PAGE_SIZE,
                   help=f"mentions per page (1-{MAX_PAGE}, default {defaults.HISTORY_PAGE_SIZE})")
    p.add_argument("--cursor", default=None, help="the next page: the cursor the previous page printed")
    p.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")

    p = sub.add_parser("export", help="write every mention of a selection to a CSV or JSON Lines file")
    _selection_args(p)
    p.add_argument("--out", required=True, help="output file ('-' for standard output)")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("--bom", action="store_true", help="start with a UTF-8 byte order mark (Excel on Windows)")

    p = sub.add_parser("correct", help="correct a mention: relabel its sentiment, mark a brand irrelevant, restore")
    _db_args(p)
    p.add_argument("mention_id", type=int, metavar="MENTION_ID")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--sentiment", choices=SENTIMENTS, help="the mention's real sentiment")
    what.add_argument("--irrelevant", metavar="BRAND", help="the mention is not about BRAND (a false match)")
    what.add_argument("--restore", metavar="BRAND", help="undo --irrelevant for BRAND")
    p.add_argument("--by", required=True, help="who corrects (recorded)")
    p.add_argument("--note", default="", help="why (recorded)")


# --- helpers -----------------------------------------------------------------------------------


def _engine(args: argparse.Namespace) -> sa.Engine:
    from monitor.settings import load_config
    from monitor.store.engine import make_engine
    from monitor.store.migrate import upgrade

    url = resolve_sqlite_url(args.db, Path.cwd()) if args.db else load_config(args.config).storage_url
    parsed = sa.engine.make_url(url) if url.startswith("sqlite") else None
    if parsed is not None and parsed.database and not Path(parsed.database).exists():
        raise BrandPulseError(f"no database at {parsed.database!r}: give --db sqlite:///path/to/brandpulse.db "
                              f"or -c CONFIG")
    engine = make_engine(url)
    upgrade(engine)
    return engine


def _split(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))


def selection(args: argparse.Namespace, now: datetime) -> MentionFilter:
    """The MentionFilter the selection options describe."""
    from monitor.cli import _when_arg

    if args.since and args.from_:
        raise BrandPulseError("give --since or --from, not both")
    start = args.since or args.from_
    return MentionFilter(
        brands=_split(args.brand), sources=_split(args.source),
        since=_when_arg(start, "--since" if args.since else "--from", now) if start else None,
        until=_when_arg(args.to, "--to", now) if args.to else None,
        sentiments=tuple(dict.fromkeys(args.sentiment)), text=args.query or None, author=args.author,
        include_irrelevant=args.include_irrelevant)


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading ' defuses =cmd|... and friends."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(row: MentionRow) -> list[Any]:
    d = mention_dict(row)
    out = []
    for col in CSV_COLUMNS:
        v = d[col]
        if isinstance(v, list):
            v = ",".join(v) if col.endswith("brands") else " ".join(v)
        out.append(safe_cell("" if v is None else v))
    return out


def _clean(text: str | None) -> str:
    """One terminal line: whitespace collapsed, control and format characters (ESC, bidi) dropped."""
    if not text:
        return ""
    kept = (" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join("".join(kept).split())


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK wide and full-width characters take two."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def fit(text: str, cols: int) -> str:
    """``text`` cut to ``cols`` terminal columns (with … when cut), padded with spaces to exactly that."""
    if width(text) > cols:
        out, used = [], 0
        for ch in text:
            w = width(ch)
            if used + w > cols - 1:
                break
            out.append(ch)
            used += w
        text = "".join(out) + "…"
    return text + " " * (cols - width(text))


def table(rows: list[MentionRow], columns: int) -> list[str]:
    """Fixed-width lines for a terminal ``columns`` wide; the text takes what is left."""
    cells = []
    for r in rows:
        label = r.sentiment_label + ("*" if r.sentiment_label != r.model_label else "")
        brands = ",".join(r.brands) + "".join(f" !{b}" for b in r.irrelevant_brands)
        cells.append([str(r.id), f"{r.published_at:%Y-%m-%d %H:%M}", _clean(r.source_id), _clean(r.author),
                      _clean(brands), label, str(r.engagement), _clean(" ".join(p for p in (r.title, r.text) if p))])
    head = ["ID", "PUBLISHED (UTC)", "SOURCE", "AUTHOR", "BRANDS", "SENTIMENT", "ENG", "TEXT"]
    caps = [10, 16, 14, 14, 16, 10, 8]
    widths = [min(cap, max(width(c[i]) for c in [head, *cells])) for i, cap in enumerate(caps)]
    rest = max(20, columns - sum(widths) - 2 * len(widths))
    return ["  ".join(fit(c, w) for c, w in zip(line, [*widths, rest], strict=True)).rstrip()
            for line in [head, *cells]]


def _write(rows: Iterable[MentionRow], fmt: str, out: IO[str]) -> int:
    n = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(csv_row(row))
            n += 1
    else:
        for row in rows:
            out.write(json.dumps(mention_dict(row), ensure_ascii=False) + "\n")
            n += 1
    return n


# --- commands ----------------------------------------------------------------------------------


def cmd_mentions(args: argparse.Namespace) -> int:
    from monitor.store.query import search_mentions

    flt = selection(args, datetime.now(UTC))
    engine = _engine(args)
    try:
        page = search_mentions(engine, flt, order=args.order, limit=args.limit, cursor=args.cursor)
    finally:
        engine.dispose()
    if args.format == "table":
        if page.rows:
            print("\n".join(table(page.rows, shutil.get_terminal_size((160, 24)).columns)))
        else:
            print("no mentions match")
    else:
        _write(page.rows, args.format, sys.stdout)
    if page.next_cursor:  # on stderr, so CSV and JSON Lines on stdout stay clean
        print(f"{len(page.rows)} mentions; next page: --cursor {page.next_cursor}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from monitor.store.query import iter_mentions

    flt = selection(args, datetime.now(UTC))
    engine = _engine(args)
    encoding = "utf-8-sig" if args.bom else "utf-8"
    newline = "" if args.format == "csv" else "\n"
    try:
        rows = iter_mentions(engine, flt, order=args.order)
        if args.out == "-":
            if args.bom:
                sys.stdout.write("\ufeff")
            n = _write(rows, args.format, sys.stdout)
        else:
            # Written beside the target and renamed at the end: an interrupted export never
            # leaves a half file that looks complete.
            target = Path(args.out)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent if str(target.parent) else ".")
            try:
                with os.fdopen(fd, "w", encoding=encoding, newline=newline) as out:
                    n = _write(rows, args.format, out)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise BrandPulseError(f"cannot write {args.out!r}: {exc.strerror or exc}") from None
    finally:
        engine.dispose()
    print(f"exported {n} mentions to {args.out}", file=sys.stderr)
    return 0


def cmd_correct(args: argparse.Namespace) -> int:
    from monitor.store import corrections

    engine = _engine(args)
    now = datetime.now(UTC)
    try:
        if args.sentiment:
            c = corrections.relabel(engine, args.mention_id, args.sentiment, by=args.by, at=now, note=args.note)
            what = f"sentiment is now {c.sentiment_label}"
        elif args.irrelevant:
            c = corrections.mark_irrelevant(engine, args.mention_id, args.irrelevant, by=args.by, at=now,
                                            note=args.note)
            what = f"no longer counts for {c.brand}"
        else:
            c = corrections.restore(engine, args.mention_id, args.restore, by=args.by, at=now, note=args.note)
            what = f"counts for {c.brand} again"
    finally:
        engine.dispose()
    print(f"mention {c.mention_id}: {what} (correction {c.id} by {c.by})")
    return 0


HISTORY_COMMANDS = {"mentions": cmd_mentions, "export": cmd_export, "correct": cmd_correct}
