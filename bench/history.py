"""Mention history at scale: 1,000,000 synthetic mentions, the analyst's queries, with and without
the indexes of migration 0003.

Loads N mentions (5 brands of unequal share, 8 sources, 60,000 authors with a few very active
KOLs, Chinese texts from a small vocabulary with ~10% in Traditional script, 90 days with a
daily rhythm, ~15% matching two brands) into SQLite and PostgreSQL with bulk inserts (one
executemany transaction / COPY), builds the schema's indexes, then times through the real
query functions (median of --runs after one warm-up):

- page:         brand + sentiment + last 7 days, newest first, 50 rows (the mention stream)
- page+text:    the same with a Chinese text query (召回)
- source page:  source + sentiment + 7 days (no brand: the mentions-side path)
- deep page:    50 rows at depth 50,000 of a brand's 30 days, through a keyset cursor
- series:       30 days of 15-minute buckets by sentiment for one brand (2,880 points)
- text:         a text query alone over all 90 days; and one that matches nothing, so every
                mention is read (the worst case: no index serves an unanchored substring)

In-run baseline: the same queries after dropping 0003's indexes and putting back the 0002
index (brand, published_ts), i.e. the schema before this work; the ratio is baseline / now.
As a second reference, the deep page through OFFSET instead of a cursor.

    nice -n 10 python bench/history.py                         # 1M rows, SQLite and PostgreSQL
    python bench/history.py --rows 100000 --db sqlite --runs 3
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import opencc  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from monitor.store.engine import make_engine  # noqa: E402
from monitor.store.migrate import upgrade  # noqa: E402
from monitor.store.query import MentionFilter, search_mentions, sentiment_series  # noqa: E402
from monitor.store.schema import mention_brands  # noqa: E402
from monitor.store.schema import mentions as mentions_table  # noqa: E402

END = datetime(2026, 3, 1, tzinfo=UTC)  # "now" of the synthetic history
DAYS = 90
BRANDS = [("acme", "阿克米咖啡", 0.35), ("qinghe", "青禾乳业", 0.25), ("xinghe", "星河手机", 0.18),
          ("beta", "贝塔手机", 0.14), ("lumi", "露米美妆", 0.08)]
SOURCES = ["weibo", "douyin", "xiaohongshu", "zhihu", "bilibili", "news-rss", "wechat", "forum"]
SOURCE_W = [0.32, 0.2, 0.14, 0.1, 0.08, 0.07, 0.06, 0.03]
PRODUCTS = ["新品", "拿铁", "牛奶", "酸奶", "手机", "耳机", "会员卡", "奶粉", "面霜", "外卖", "门店", "快递"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "台北", "香港"]
PRAISE = ["{b}的{p}真不错，{c}的朋友都在用，第{n}次回购了", "今天在{c}买了{b}{p}，服务很好，推荐",
          "{b}{p}性价比高，包装也用心，好评", "用了{k}天{b}的{p}，质量稳定，物流也快"]
NEUTRAL = ["#{b}# 新{p}在{c}发布，价格{k}元，大家怎么看", "{c}的{b}门店今天开业了，{p}排队的人不少",
           "有人用过{b}的{p}吗？想了解一下 {n}", "{b}发布了第{k}季度报告，{p}销量持平"]
COMPLAINT = ["{b}的{p}有问题，客服{k}天都没回复，太失望了", "在{c}买的{b}{p}是坏的，要求退款，投诉第{n}次",
             "{b}{p}变质了还在卖，{c}的朋友也中招了，坚决抵制", "{b}的{p}被曝要召回，大家别买了 {n}"]
TEXT_QUERY = "召回"  # in one complaint template in four: a realistic crisis word
SCAN_QUERY = "乳业 召回"  # both terms, no other filter: the walk goes back until 50 match
NO_MATCH = "无此词语"  # found nowhere: every stored mention is read (no index can help a substring)


def _fmt(dt: datetime) -> str:  # SQLAlchemy's SQLite DateTime storage format (naive UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(n: int, seed: int = 5) -> Iterator[tuple[dict[str, Any], list[tuple[str, str]]]]:
    """Mentions oldest first: (mentions row, [(brand, label)])."""
    rnd = random.Random(seed)
    t2s = opencc.OpenCC("s2t")
    templates = {label: [(t, t2s.convert(t)) for t in tpls]
                 for label, tpls in (("positive", PRAISE), ("neutral", NEUTRAL), ("negative", COMPLAINT))}
    names = {b: (name, t2s.convert(name)) for b, name, _ in BRANDS}
    authors = [f"用户{i:05d}" for i in range(60_000)]
    followers = [int(rnd.paretovariate(1.2) * 50) for _ in authors]
    start = END - timedelta(days=DAYS)
    # a daily rhythm: evenings busier than nights
    hour_w = [0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.1, 1.2, 1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 1.5,
              1.6, 1.5, 1.0, 0.6]
    hours = rnd.choices(range(DAYS * 24), weights=[hour_w[h % 24] for h in range(DAYS * 24)], k=n)
    hours.sort()
    brand_ids, brand_w = [b for b, _, _ in BRANDS], [w for _, _, w in BRANDS]
    for i, h in enumerate(hours):
        at = start + timedelta(hours=h, seconds=rnd.random() * 3600)
        brands = rnd.choices(brand_ids, brand_w, k=1)
        if rnd.random() < 0.15:
            other = rnd.choices(brand_ids, brand_w, k=1)[0]
            if other != brands[0]:
                brands.append(other)
        label = rnd.choices(("negative", "neutral", "positive"), (0.2, 0.3, 0.5))[0]
        trad = rnd.random() < 0.1
        tpl = rnd.choice(templates[label])[trad]
        text = tpl.format(b=names[brands[0]][trad], p=rnd.choice(PRODUCTS), c=rnd.choice(CITIES), n=i,
                          k=rnd.randint(1, 30))
        if len(brands) > 1:
            text += f" 和{names[brands[1]][trad]}比呢"
        a = min(int(rnd.paretovariate(0.9)) - 1, len(authors) - 1)  # a few authors write a lot
        yield ({
            "id": i + 1, "source_id": rnd.choices(SOURCES, SOURCE_W)[0], "external_id": f"post-{i}",
            "url": f"https://example.com/p/{i}", "author": authors[a], "title": None, "text": text,
            "published_at": at, "fetched_at": at + timedelta(minutes=2), "platform": None, "lang": "zh",
            "engagement": int(rnd.paretovariate(1.5)) - 1, "author_followers": followers[a],
            "brands": ",".join(brands), "content_hash": hashlib.sha1(text.encode()).hexdigest(),
            "simhash": rnd.randint(-(1 << 63), (1 << 63) - 1), "sentiment_label": label,
            "sentiment_score": {"negative": 0.1, "neutral": 0.5, "positive": 0.9}[label],
            "model_version": "bench-1", "keywords": None, "crisis_terms": None,
        }, [(b, label) for b in brands])


COLUMNS = [c.name for c in mentions_table.columns]
NEW_INDEXES = {  # migration 0003's indexes: name -> (table, columns)
    "ix_mention_brands_brand_published_ts_mention_id_sentiment_label":
        ("mention_brands", "brand, published_ts, mention_id, sentiment_label"),
    "ix_mentions_source_id_published_at": ("mentions", "source_id, published_at"),
    "ix_mentions_author_published_at": ("mentions", "author, published_at"),
}
SECONDARY = {**NEW_INDEXES, "ix_mentions_published_at": ("mentions", "published_at"),
             "ix_mentions_fetched_at": ("mentions", "fetched_at")}
OLD_INDEX = ("ix_mention_brands_brand_published_ts", "mention_brands", "brand, published_ts")


def load(engine: sa.Engine, n: int) -> float:
    """Bulk-load n mentions; secondary indexes are dropped first and built after (as a restore would)."""
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for name in SECONDARY:
            conn.execute(sa.text(f"DROP INDEX {name}"))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cols = ", ".join(COLUMNS)
            ins_m = f"INSERT INTO mentions ({cols}) VALUES ({', '.join('?' for _ in COLUMNS)})"
            ins_b = "INSERT INTO mention_brands (mention_id, brand, published_ts, sentiment_label) VALUES (?, ?, ?, ?)"
            cur.execute("BEGIN")
            batch_m: list[tuple[Any, ...]] = []
            batch_b: list[tuple[Any, ...]] = []
            for row, brands in generate(n):
                ts = int(row["published_at"].timestamp())
                row["published_at"], row["fetched_at"] = _fmt(row["published_at"]), _fmt(row["fetched_at"])
                batch_m.append(tuple(row[c] for c in COLUMNS))
                batch_b.extend((row["id"], b, ts, label) for b, label in brands)
                if len(batch_m) >= 50_000:
                    cur.executemany(ins_m, batch_m)
                    cur.executemany(ins_b, batch_b)
                    batch_m, batch_b = [], []
            cur.executemany(ins_m, batch_m)
            cur.executemany(ins_b, batch_b)
            cur.execute("COMMIT")
        else:
            brand_rows: list[tuple[Any, ...]] = []
            with cur.copy(f"COPY mentions ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row, brands in generate(n):
                    ts = int(row["published_at"].timestamp())
                    brand_rows.extend((row["id"], b, ts, label) for b, label in brands)
                    row["published_at"] = row["published_at"].replace(tzinfo=None)
                    row["fetched_at"] = row["fetched_at"].replace(tzinfo=None)
                    copy.write_row(tuple(row[c] for c in COLUMNS))
            with cur.copy("COPY mention_brands (mention_id, brand, published_ts, sentiment_label) FROM STDIN"
                          ) as copy:  # type: ignore[attr-defined]
                for r in brand_rows:
                    copy.write_row(r)
            cur.execute("SELECT setval(pg_get_serial_sequence('mentions', 'id'), %s)", (n,))
            raw.commit()
    finally:
        raw.close()
    loaded = time.perf_counter() - t0
    with engine.begin() as conn:
        for name, (table, cols) in SECONDARY.items():
            conn.execute(sa.text(f"CREATE INDEX {name} ON {table} ({cols})"))
    analyze(engine)
    print(f"  loaded {n:,} mentions in {loaded:.0f}s, indexes built in {time.perf_counter() - t0 - loaded:.0f}s",
          flush=True)
    return loaded


def analyze(engine: sa.Engine) -> None:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would after a bulk load (statistics and the
    visibility map index-only scans need). SQLite: nothing; the product never runs ANALYZE."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE mentions"))
            conn.execute(sa.text("VACUUM ANALYZE mention_brands"))


def to_baseline(engine: sa.Engine) -> None:
    """Back to the 0002 indexes: drop 0003's, restore (brand, published_ts)."""
    with engine.begin() as conn:
        for name in NEW_INDEXES:
            conn.execute(sa.text(f"DROP INDEX {name}"))
        conn.execute(sa.text(f"CREATE INDEX {OLD_INDEX[0]} ON {OLD_INDEX[1]} ({OLD_INDEX[2]})"))
    analyze(engine)


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm-up: caches and statement compilation, as on a running daemon
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def queries(engine: sa.Engine, depth: int) -> dict[str, Callable[[], Any]]:
    week = MentionFilter(brands=("acme",), sentiments=("negative",), since=END - timedelta(days=7), until=END)
    month = MentionFilter(brands=("acme",), since=END - timedelta(days=30), until=END)
    cursor = None  # the cursor at ``depth``, reached by walking the chain once
    for _ in range(depth // 1000):
        cursor = search_mentions(engine, month, limit=1000, cursor=cursor).next_cursor
    assert cursor is not None, f"history too small for a page at depth {depth}"
    mb, m = mention_brands, mentions_table
    assert month.since is not None
    lo, hi = int(month.since.timestamp()), int(END.timestamp())

    def page_offset() -> Any:  # the same query as the cursor page, positioned with OFFSET
        with engine.connect() as conn:
            return conn.execute(
                sa.select(m).select_from(mb.join(m, m.c.id == mb.c.mention_id))
                .where(mb.c.brand == "acme", mb.c.published_ts >= lo, mb.c.published_ts < hi)
                .order_by(mb.c.published_ts.desc(), mb.c.mention_id.desc()).limit(50).offset(depth)).all()

    k = f"{depth // 1000}k"
    return {
        "page (brand+sentiment+7d)": lambda: search_mentions(engine, week, limit=50),
        "page + text query": lambda: search_mentions(engine, replace(week, text=TEXT_QUERY), limit=50),
        "source page (no brand)": lambda: search_mentions(engine, MentionFilter(
            sources=("zhihu",), sentiments=("negative",), since=week.since, until=END), limit=50),
        f"deep page (cursor @{k})": lambda: search_mentions(engine, month, limit=50, cursor=cursor),
        f"deep page (OFFSET @{k})": page_offset,
        "series 30d x 15min": lambda: sentiment_series(engine, "acme", END - timedelta(days=30), END, 900),
        "text, all 90 days": lambda: search_mentions(engine, MentionFilter(text=SCAN_QUERY), limit=50),
        "text, no match (worst case)": lambda: search_mentions(engine, MentionFilter(text=NO_MATCH), limit=50),
    }


def run(name: str, url: str, rows: int, runs: int) -> None:
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== {name}: {rows:,} mentions (load average {load_avg} on {os.cpu_count()} cores) ==", flush=True)
    engine = make_engine(url)
    try:
        upgrade(engine)
        load(engine, rows)
        depth = min(50_000, rows // 12000 * 1000)  # ~40% into a brand's 30 days
        qs = queries(engine, depth)
        now = {k: median_ms(fn, runs) for k, fn in qs.items()}
        to_baseline(engine)
        qs = queries(engine, depth)
        before = {k: median_ms(fn, runs) for k, fn in qs.items()}
    finally:
        engine.dispose()
    print(f"  {'query':30} {'0003 ms':>10} {'0002 ms':>10} {'ratio':>7}")
    for k in now:
        print(f"  {k:30} {now[k]:10.1f} {before[k]:10.1f} {before[k] / now[k]:6.1f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="mentions to load (default 1,000,000)")
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--pg-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="PostgreSQL server to create (and drop) a scratch database on")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per query (median; after one warm-up)")
    args = ap.parse_args(argv)
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bp-bench-") as tmp:
            run("SQLite", f"sqlite:///{tmp}/history.db", args.rows, args.runs)
    if args.db in ("postgres", "both"):
        admin = sa.create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
        name = f"bp_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            run("PostgreSQL", admin.url.set(database=name).render_as_string(hide_password=False), args.rows, args.runs)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
