"""``brandpulse mentions``, ``export`` and ``correct`` as a user runs them: real subprocesses on a real database."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.cli_history import fit, safe_cell, table, width
from monitor.models import Mention, Sentiment, SentimentLabel
from monitor.store.engine import make_engine
from monitor.store.mentions import insert_mentions
from monitor.store.migrate import upgrade
from monitor.store.query import MentionFilter, search_mentions
from tests.monitor.test_cli import brandpulse

NOW = datetime.now(UTC).replace(microsecond=0)
FORMULA = "=cmd|' /C calc'!A0"


def mention(ext: str, text: str, *, hours_ago: float, label: str = "neutral", brands=("acme",), **kw) -> Mention:
    return Mention(source_id=kw.pop("source_id", "weibo"), external_id=ext, text=text, brands=tuple(brands),
                   sentiment=Sentiment(SentimentLabel(label), 0.5, "test-1"),
                   published_at=NOW - timedelta(hours=hours_ago), fetched_at=NOW,
                   content_hash=hashlib.sha1(text.encode()).hexdigest(), simhash=1, platform="weibo", lang="zh", **kw)


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, dict[str, int]]:
    url = f"sqlite:///{tmp_path / 'bp.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        insert_mentions(conn, [
            mention("t1", "阿克米乳業爆出召回消息，大家小心", hours_ago=1, label="negative", author="台北小林"),
            mention("s1", "阿克米乳业的新品很好喝，推荐", hours_ago=2, label="positive", author="上海小王",
                    engagement=900),
            mention("x1", "阿克米 <script>alert(1)</script>\x1b[31m红色\x1b[0m\u202e倒序", hours_ago=3,
                    label="negative", author=FORMULA, title="-2+3"),
            mention("b1", "贝塔手机和阿克米联名", hours_ago=4, brands=("acme", "beta"), source_id="news"),
            mention("old", "阿克米 上个月的帖子", hours_ago=24 * 20),
        ])
        ids = {k: int(v) for k, v in conn.execute(sa.text("SELECT external_id, id FROM mentions")).all()}
    engine.dispose()
    return url, ids


def ok(*args: str, **kw) -> tuple[str, str]:
    out = brandpulse(*args, **kw)
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


def fails(*args: str) -> str:
    out = brandpulse(*args)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brandpulse: ") and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def test_table_is_aligned_in_cjk_columns_and_holds_no_control_characters(db) -> None:
    url, ids = db
    stdout, _ = ok("mentions", "--db", url, "--brand", "acme", "--since", "7d", env={"COLUMNS": "100"})
    lines = stdout.splitlines()
    assert lines[0].startswith("ID") and len(lines) == 5  # header + 4 mentions of the last 7 days
    assert all(width(line) <= 100 for line in lines), [width(line) for line in lines]
    text_col = width(lines[0][: lines[0].index("TEXT")])
    for line in lines[1:]:  # the TEXT column starts at the same terminal column on every line
        chars, used = 0, 0
        while used < text_col:
            used += width(line[chars])
            chars += 1
        assert used == text_col and line[chars - 2:chars] == "  ", line
    assert "阿克米乳業爆出召回消息" in lines[1] and "negative" in lines[1]
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in stdout.replace("\n", ""))
    assert "<script>alert(" in stdout  # a terminal shows markup as text


def test_filters_traditional_query_csv_and_formula_cells(db) -> None:
    url, ids = db
    stdout, _ = ok("mentions", "--db", url, "--query", "乳业", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [r["external_id"] for r in rows] == ["t1", "s1"]  # 乳業 (Traditional) found by 乳业
    stdout, _ = ok("mentions", "--db", url, "--sentiment", "negative", "--since", "7d", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [r["external_id"] for r in rows] == ["t1", "x1"]
    assert rows[1]["author"] == "'" + FORMULA and rows[1]["title"] == "'-2+3"
    assert rows[1]["text"].startswith("阿克米 <script>")
    stdout, _ = ok("mentions", "--db", url, "--source", "news", "--brand", "beta,acme", "--format", "jsonl")
    assert [json.loads(line)["brands"] for line in stdout.splitlines()] == [["acme", "beta"]]
    stdout, _ = ok("mentions", "--db", url, "--author", "台北小林", "--order", "engagement")
    assert "台北小林" in stdout and "上海小王" not in stdout


def test_jsonl_pages_follow_the_printed_cursor(db) -> None:
    url, ids = db
    stdout, stderr = ok("mentions", "--db", url, "--limit", "2", "--format", "jsonl", "--order", "oldest")
    first = [json.loads(line)["external_id"] for line in stdout.splitlines()]
    cursor = stderr.split("--cursor ", 1)[1].strip()
    stdout, stderr = ok("mentions", "--db", url, "--limit", "10", "--format", "jsonl", "--order", "oldest",
                        "--cursor", cursor)
    rest = [json.loads(line)["external_id"] for line in stdout.splitlines()]
    assert first + rest == ["old", "b1", "x1", "s1", "t1"] and "--cursor" not in stderr
    assert "not valid" in fails("mentions", "--db", url, "--cursor", "garbage")
    assert "--since" in fails("mentions", "--db", url, "--since", "last tuesday")


def test_export_streams_the_whole_selection_with_bom(db, tmp_path: Path) -> None:
    url, ids = db
    out = tmp_path / "acme.csv"
    _, stderr = ok("export", "--db", url, "--brand", "acme", "--out", str(out), "--bom")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "exported 5 mentions" in stderr
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 5 and rows[0]["brands"] == "acme"
    assert [r for r in rows if r["external_id"] == "x1"][0]["author"] == "'" + FORMULA
    jl = tmp_path / "acme.jsonl"
    ok("export", "--db", url, "--from", (NOW - timedelta(days=1)).isoformat(), "--out", str(jl), "--format", "jsonl")
    lines = jl.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and json.loads(lines[2])["author"] == FORMULA  # JSON keeps the value as it is
    assert not list(tmp_path.glob(".acme*"))  # no temporary files left behind
    assert "cannot write" in fails("export", "--db", url, "--out", str(tmp_path / "missing" / "x.csv"))


def test_correct_relabels_marks_and_restores_and_the_listing_shows_it(db, tmp_path: Path) -> None:
    url, ids = db
    b1 = ids["b1"]
    stdout, _ = ok("correct", "--db", url, str(b1), "--sentiment", "negative", "--by", "王五", "--note", "反讽")
    assert stdout.startswith(f"mention {b1}: sentiment is now negative")
    ok("correct", "--db", url, str(b1), "--irrelevant", "beta", "--by", "王五")
    engine = make_engine(url)
    try:
        [row] = search_mentions(engine, MentionFilter(sources=("news",))).rows
        assert (row.sentiment_label, row.model_label, row.brands, row.irrelevant_brands, row.corrected_by) == (
            "negative", "neutral", ("acme",), ("beta",), "王五")
    finally:
        engine.dispose()
    stdout, _ = ok("mentions", "--db", url, "--source", "news", env={"COLUMNS": "120"})
    assert "negative*" in stdout and "acme !beta" in stdout
    assert "already marked irrelevant" in fails("correct", "--db", url, str(b1), "--irrelevant", "beta", "--by", "x")
    ok("correct", "--db", url, str(b1), "--restore", "beta", "--by", "赵六")
    assert "no such mention" in fails("correct", "--db", url, "999999", "--sentiment", "positive", "--by", "x")
    assert "no database at" in fails("mentions", "--db", f"sqlite:///{tmp_path / 'nope.db'}")


def test_config_gives_the_database_when_no_db_is_given(db, tmp_path: Path) -> None:
    url, _ = db
    from tests.acceptance.test_daemon import make_config

    config = make_config(tmp_path, url, "http://127.0.0.1:9/hook", "http://127.0.0.1:9/feed.xml")
    stdout, _ = ok("mentions", "-c", str(config), "--brand", "beta", "--format", "jsonl")
    assert [json.loads(line)["external_id"] for line in stdout.splitlines()] == ["b1"]


def test_table_helpers() -> None:
    assert width("阿克米ab") == 8 and width("ＡＢ") == 4
    assert fit("阿克米咖啡", 7) == "阿克米…" and fit("阿克米咖啡", 8) == "阿克米… "
    assert fit("ab", 4) == "ab  "
    assert [safe_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "＝x", "ok", 5, -5)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'＝x", "ok", 5, -5]
    assert table([], 80) == ["ID  PUBLISHED (UTC)  SOURCE  AUTHOR  BRANDS  SENTIMENT  ENG  TEXT"]
