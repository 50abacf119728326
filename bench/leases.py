"""What leases cost a replica: the fence on every stored batch, and the heartbeat.

1. Ingest the same synthetic mentions through the real Pipeline (file source -> nlp -> store),
   plain and with every batch fenced by a source lease (what a replica does), into fresh
   tables each time, runs of the two kinds interleaved. Prints the best rate of each and their
   ratio (1.00 = the fence is free).
2. Renew N leases in one heartbeat statement (what a replica holding N sources and brands
   does every lease/3 seconds). Prints the median time, and as baseline the median of a bare
   ``SELECT 1`` round trip on the same connection.

    python bench/leases.py                      # SQLite in a temp folder
    python bench/leases.py -n 20000 --db postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from ingest import BRANDS, make_texts  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from monitor.clock import SystemClock  # noqa: E402
from monitor.metrics import Metrics  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.store import leases, schema  # noqa: E402
from monitor.store.engine import begin_immediate, make_engine  # noqa: E402
from monitor.store.migrate import upgrade  # noqa: E402
from nlp.process import TextProcessor  # noqa: E402
from nlp.sentiment import SentimentModel  # noqa: E402
from sources import build_source  # noqa: E402


def fresh(url: str) -> sa.Engine:
    engine = make_engine(url)
    schema.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    return engine


def ingest(url: str, export: Path, batch: int, model: SentimentModel, fenced: bool) -> float:
    engine = fresh(url)
    clock = SystemClock()
    processor = TextProcessor(BRANDS, model=model)
    processor.process([], fetched_at=clock.now())
    source = build_source("bench", "file", {"path": str(export), "format": "jsonl", "max_items_per_poll": batch,
                                            "fields": {"id": "id", "text": "text", "time": "time"}},
                          base_dir=export.parent, clock=clock)
    pipeline = Pipeline(engine, processor, Metrics(CollectorRegistry()), clock)
    fence = None
    if fenced:
        with begin_immediate(engine) as conn:
            lease = leases.claim(conn, "source:bench", "bench-replica", 3600, leases.database_now(conn))
        assert lease is not None
        fence = lambda conn: leases.fence(conn, lease)  # noqa: E731
    n = 0
    t0 = time.perf_counter()
    while True:
        outcome = pipeline.poll(source, fence=fence)
        if not outcome.ok:
            raise SystemExit(f"poll failed: {outcome.error}")
        n += outcome.fetched
        if not outcome.more:
            break
    seconds = time.perf_counter() - t0
    source.close()
    engine.dispose()
    return n / seconds


def heartbeat(url: str, n: int, rounds: int = 20) -> tuple[float, float]:
    engine = fresh(url)
    with begin_immediate(engine) as conn:
        now = leases.database_now(conn)
        held = {f"source:s{i}": leases.claim(conn, f"source:s{i}", "bench-replica", 30, now) for i in range(n)}
    tokens = {name: lease.token for name, lease in held.items() if lease is not None}
    renew_ms, ping_ms = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        with begin_immediate(engine) as conn:
            renewed = leases.renew(conn, "bench-replica", tokens, 30, leases.database_now(conn))
        renew_ms.append((time.perf_counter() - t0) * 1000)
        assert len(renewed) == n
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()
        ping_ms.append((time.perf_counter() - t0) * 1000)
    engine.dispose()
    return statistics.median(renew_ms), statistics.median(ping_ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000, help="mentions to ingest per run")
    ap.add_argument("--db", default=None, help="SQLAlchemy URL of a scratch database (its tables are dropped)")
    ap.add_argument("--batch", type=int, default=1_000, help="items per poll (one fenced transaction each)")
    ap.add_argument("--repeat", type=int, default=3, help="ingest runs of each kind, interleaved; the best counts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        export = Path(tmp) / "export.jsonl"
        start = datetime.now(UTC) - timedelta(days=1)
        with export.open("w", encoding="utf-8") as f:
            for i, text in enumerate(make_texts(args.n)):
                f.write(json.dumps({"id": i, "text": text, "time": (start + timedelta(seconds=i)).isoformat()},
                                   ensure_ascii=False) + "\n")
        model = SentimentModel.load()
        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeat):  # interleaved, best of each: warm-up and load spikes hit both alike
            for kind in (False, True):
                runs[kind].append(ingest(url, export, args.batch, model, fenced=kind))
        plain, fenced = max(runs[False]), max(runs[True])
        beats = {n: heartbeat(url, n) for n in (100, 1000)}
        dialect = make_engine(url).dialect.name
    print(f"leases on {dialect}: {args.n} mentions, {args.batch} per poll, best of {args.repeat}")
    print(f"  ingest, plain:                         {plain:10,.0f} mentions/s")
    print(f"  ingest, every batch fenced by a lease: {fenced:10,.0f} mentions/s")
    print(f"  ratio fenced / plain:                  {fenced / plain:10.2f}")
    for n, (renew_ms, ping_ms) in beats.items():
        print(f"  heartbeat renewing {n:5d} leases:      {renew_ms:10.1f} ms  (baseline SELECT 1: {ping_ms:.1f} ms, "
              f"ratio {renew_ms / ping_ms:.1f})")


if __name__ == "__main__":
    main()
