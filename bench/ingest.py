"""Ingest throughput: N synthetic mentions through parse -> match -> dedupe -> score -> store.

Prints mentions/second for the whole path (the real FileSource, TextProcessor and Pipeline
into a real database) and, measured in the same run over the same texts, the throughput of
jieba tokenisation alone: the floor no jieba-based pipeline can beat. The ratio is the figure
to watch.

    python bench/ingest.py                 # 20,000 mentions into SQLite in a temp folder
    python bench/ingest.py -n 50000 --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jieba  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from monitor.clock import SystemClock  # noqa: E402
from monitor.metrics import Metrics  # noqa: E402
from monitor.models import Brand  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.store import schema  # noqa: E402
from monitor.store.engine import make_engine  # noqa: E402
from monitor.store.migrate import upgrade  # noqa: E402
from nlp.process import TextProcessor  # noqa: E402
from nlp.sentiment import SentimentModel  # noqa: E402
from sources import build_source  # noqa: E402

BRANDS = [Brand("qinghe", "青禾乳业", ("青禾", "Qinghe")), Brand("xinghe", "星河手机", ("星河", "Xinghe")),
          Brand("acme", "阿克米咖啡", ("阿克米", "ACME"))]
ZH = ["{b}的{p}真不错，{c}的朋友都在用，第{n}次回购了[哈哈]", "在{c}买的{b}{p}有问题，客服{k}天都没回复，太失望了[怒]",
      "#{b}# 新品发布会在{c}举行，{p}价格{n}元，大家怎么看", "{b}的{p}喝了{k}年了，一直很稳定，推荐 {n}",
      "{c}这家{b}门店排队{k}小时，服务跟不上，{p}还缺货 编号{n}"]
EN = ["Just tried the new {b} {p} in {c}, honestly great value #{n}",
      "{b} support ignored me for {k} days, my {p} is broken. Not happy. ticket {n}"]
PRODUCTS = ["牛奶", "酸奶", "手机", "咖啡", "拿铁", "耳机", "会员卡", "奶粉"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "Shanghai", "Beijing"]


def make_texts(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        b = rnd.choice(BRANDS)
        if rnd.random() < 0.8:
            tpl, name = rnd.choice(ZH), rnd.choice(b.all_aliases()[:2])
        else:
            tpl, name = rnd.choice(EN), b.aliases[-1]
        out.append(tpl.format(b=name, p=rnd.choice(PRODUCTS), c=rnd.choice(CITIES), n=i,
                              k=rnd.randint(1, 30)) + f" {rnd.randint(0, 10**9):x}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20_000, help="mentions to ingest")
    ap.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite in a temp folder)")
    ap.add_argument("--batch", type=int, default=1_000, help="items per poll (one transaction each)")
    args = ap.parse_args()

    texts = make_texts(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.jsonl"
        start = datetime.now(UTC) - timedelta(days=1)
        with path.open("w", encoding="utf-8") as f:
            for i, text in enumerate(texts):
                f.write(json.dumps({"id": i, "text": text, "time": (start + timedelta(seconds=i)).isoformat()},
                                   ensure_ascii=False) + "\n")
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        if args.db:  # a shared database: start from empty tables
            schema.metadata.drop_all(engine)
            with engine.begin() as conn:
                conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(engine)

        clock = SystemClock()
        model = SentimentModel.load()
        processor = TextProcessor(BRANDS, model=model)
        processor.process([], fetched_at=clock.now())  # warm up jieba's dictionary outside the timing
        source = build_source("bench", "file", {"path": str(path), "format": "jsonl",
                                                "fields": {"id": "id", "text": "text", "time": "time"},
                                                "max_items_per_poll": args.batch},
                              base_dir=Path(tmp), clock=clock)
        pipeline = Pipeline(engine, processor, Metrics(CollectorRegistry()), clock)

        t0 = time.perf_counter()
        stored = 0
        while True:
            outcome = pipeline.poll(source)
            if not outcome.ok:
                raise SystemExit(f"poll failed: {outcome.error}")
            stored += outcome.stored
            if not outcome.more:
                break
        pipeline_s = time.perf_counter() - t0
        source.close()
        engine.dispose()

        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        t0 = time.perf_counter()
        for text in texts:
            tokenizer.lcut(text)
        jieba_s = time.perf_counter() - t0

    full = args.n / pipeline_s
    floor = args.n / jieba_s
    print(f"ingest: {args.n} mentions ({stored} stored) on {engine.dialect.name}")
    print(f"  full path (parse -> match -> dedupe -> score -> store): {full:10,.0f} mentions/s")
    print(f"  baseline, jieba tokenisation alone (same texts):        {floor:10,.0f} texts/s")
    print(f"  ratio full path / jieba alone:                          {full / floor:10.2f}")


if __name__ == "__main__":
    main()
