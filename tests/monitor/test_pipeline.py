"""One poll cycle on real parts: a JSONL export and a feed on loopback, the real NLP, a real store.

Mentions and the cursor commit together; bad rows are skipped and counted; a failing source
is logged when the failure starts or changes and when it recovers, not on every poll.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from monitor.clock import SystemClock
from monitor.metrics import Metrics
from monitor.models import Brand
from monitor.pipeline import Pipeline
from monitor.store import cursors, schema
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from nlp.process import TextProcessor
from nlp.sentiment import SentimentModel
from sources import build_source

BRANDS = [Brand("acme", "阿克米咖啡", ("阿克米", "ACME"))]
EXPORT_OPTIONS = {"path": "export.jsonl", "fields": {"id": "id", "text": "text", "time": "time"}}


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel.load()


@pytest.fixture
def store(db_url: str):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def make_pipeline(store: sa.Engine, model: SentimentModel) -> tuple[Pipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    return Pipeline(store, TextProcessor(BRANDS, model=model), Metrics(registry), SystemClock()), registry


def write_rows(path: Path, rows: list[dict], mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")


def rows(start: int, n: int) -> list[dict]:
    t = datetime.now(UTC) - timedelta(hours=1)
    return [{"id": f"p{i}", "text": f"阿克米咖啡第{i}号门店的拿铁很好喝，店员服务周到 {i * 7919}",
             "time": (t + timedelta(seconds=i)).isoformat()} for i in range(start, start + n)]


def count(store: sa.Engine) -> int:
    with store.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one()


def test_poll_stores_mentions_and_cursor_then_continues(tmp_path: Path, store, model) -> None:
    export = tmp_path / "export.jsonl"
    write_rows(export, rows(0, 5) + ["{not json", {"id": "x", "time": "2026-01-01T00:00:00Z"}]
               + [{"id": "nb", "text": "今天天气不错，和品牌无关"}])
    source = build_source("export", "file", EXPORT_OPTIONS, base_dir=tmp_path, clock=SystemClock())
    pipeline, registry = make_pipeline(store, model)

    first = pipeline.poll(source)
    assert first.ok and first.stored == 5 and first.parse_errors == 2
    assert first.dropped == {"no_brand": 1}
    assert registry.get_sample_value("brandpulse_parse_errors_total", {"source": "export"}) == 2
    assert registry.get_sample_value("brandpulse_items_dropped_total", {"source": "export", "reason": "no_brand"}) == 1
    ingested = sum(registry.get_sample_value("brandpulse_mentions_ingested_total",
                                             {"brand": "acme", "source": "export", "sentiment": s}) or 0
                   for s in ("negative", "neutral", "positive"))
    assert ingested == 5
    with store.connect() as conn:
        assert cursors.load_cursor(conn, "export") is not None

    write_rows(export, rows(5, 3), mode="a")
    second = pipeline.poll(source)  # only the appended rows
    assert second.ok and second.fetched == 3 and second.stored == 3
    source.close()

    # a restart: a new source and pipeline resume from the stored cursor, nothing repeats
    source = build_source("export", "file", EXPORT_OPTIONS, base_dir=tmp_path, clock=SystemClock())
    pipeline, _ = make_pipeline(store, model)
    third = pipeline.poll(source)
    assert third.ok and third.fetched == 0
    assert count(store) == 8
    source.close()


def test_failing_source_logs_start_change_and_recovery_once(tmp_path: Path, store, model, http_server, caplog) -> None:
    http_server.route("/feed.xml", status=503)
    source = build_source("news", "rss", {"url": http_server.url("/feed.xml")}, base_dir=tmp_path, clock=SystemClock())
    pipeline, registry = make_pipeline(store, model)
    caplog.set_level(logging.INFO, logger="monitor.pipeline")

    outcomes = [pipeline.poll(source) for _ in range(3)]
    assert [o.ok for o in outcomes] == [False] * 3
    assert [o.consecutive_failures for o in outcomes] == [1, 2, 3]
    failures = [r for r in caplog.records if "poll failed" in r.getMessage()]
    assert len(failures) == 1 and "source=news" in failures[0].getMessage()
    assert "503" in failures[0].getMessage()
    assert registry.get_sample_value("brandpulse_poll_errors_total", {"source": "news", "reason": "fetch"}) == 3

    http_server.route("/feed.xml", status=404)  # the failure changes: logged again
    assert not pipeline.poll(source).ok
    assert len([r for r in caplog.records if "poll failed" in r.getMessage()]) == 2

    http_server.route("/feed.xml", body=b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
        <item><guid>1</guid><title>ACME news</title><description>ACME opens a new store</description></item>
        </channel></rss>""")
    ok = pipeline.poll(source)
    assert ok.ok and ok.stored == 1
    assert len([r for r in caplog.records if "source=news recovered" in r.getMessage()]) == 1
    with store.connect() as conn:
        state = {s["source_id"]: s for s in cursors.source_states(conn)}["news"]
    assert state["consecutive_failures"] == 0 and state["last_success_at"] is not None
    source.close()


def test_lone_surrogate_in_an_export_does_not_stall_the_source(tmp_path: Path, store, model) -> None:
    """A JSON escape like "\\ud800" decodes to a lone surrogate that UTF-8 cannot encode; the
    mention is kept (with U+FFFD) and the source moves on."""
    export = tmp_path / "export.jsonl"
    export.write_text('{"id": "s1", "text": "阿克米咖啡 broken \\ud800 text", "time": "2026-03-01T00:00:00Z"}\n'
                      + json.dumps(rows(0, 1)[0], ensure_ascii=False) + "\n", encoding="utf-8")
    source = build_source("export", "file", EXPORT_OPTIONS, base_dir=tmp_path, clock=SystemClock())
    pipeline, _ = make_pipeline(store, model)
    outcome = pipeline.poll(source)
    assert outcome.ok, outcome.error
    assert outcome.stored == 2
    with store.connect() as conn:
        texts = conn.execute(sa.select(schema.mentions.c.text).order_by(schema.mentions.c.external_id)).scalars().all()
    assert "\ufffd" in texts[1] or "\ufffd" in texts[0]
    source.close()
