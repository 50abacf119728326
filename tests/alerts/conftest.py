"""Fixtures for the alerts tests: a migrated store, a plan, and a way to write mentions.

Mentions go in through the store's real insert path (monitor.store.mentions.insert_mentions),
so the engine reads exactly what the pipeline would have written.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from alerts.plan import CrisisPlan, load_plan
from monitor.models import Mention, Sentiment, SentimentLabel
from monitor.store import migrate
from monitor.store.engine import make_engine
from monitor.store.mentions import insert_mentions

NOTIFIERS = {"console", "hook"}

PLAN: dict[str, Any] = {
    "bucket": "15m",
    "baseline_days": 7,
    "resolve_after": "1h",
    "repeat_every": "4h",
    "contacts": [
        {
            "id": "zhang-san",
            "name": "张三",
            "department": "品牌管理部",
            "role": "值班经理",
            "channels": ["console", "hook"],
        },
        {"id": "li-si", "name": "李四", "department": "公关部", "role": "公关总监", "channels": ["hook"]},
        {
            "id": "wang-wu",
            "name": "Wang Wu",
            "department": "CEO office",
            "role": "COO",
            "channels": ["hook"],
            "lang": "en",
        },
    ],
    "levels": [
        {
            "id": "warning",
            "name": "预警",
            "when": {"negative_spike": 3.0, "min_negative": 10},
            "notify": ["zhang-san"],
            "ack_within": "30m",
        },
        {
            "id": "crisis",
            "name": "危机",
            "when": {"negative_spike": 8.0, "min_negative": 40, "negative_share": 0.5},
            "notify": ["li-si"],
            "ack_within": "15m",
        },
        {
            "id": "exec",
            "name": "高管",
            "when": {"negative_spike": 50.0, "min_negative": 500},
            "notify": ["wang-wu"],
            "ack_within": "15m",
        },
    ],
}


@pytest.fixture
def plan() -> CrisisPlan:
    return load_plan(PLAN, file="plan.yaml", notifier_ids=NOTIFIERS)


@pytest.fixture
def store(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


_ids = itertools.count(1)


def mention(brand: str, at: datetime, label: str = "negative", **kw: Any) -> Mention:
    n = next(_ids)
    text = kw.pop("text", f"{brand} 第{n}条：{'质量太差，要求退款' if label == 'negative' else '还不错'}")
    return Mention(
        source_id=kw.pop("source_id", "test"),
        external_id=f"m{n}",
        text=text,
        brands=(brand,),
        sentiment=Sentiment(SentimentLabel(label), 0.1 if label == "negative" else 0.8, "test-1"),
        published_at=at,
        fetched_at=at,
        content_hash=f"{n:040d}",
        simhash=n,
        url=kw.pop("url", f"https://weibo.example/{n}"),
        author=kw.pop("author", f"user{n}"),
        **kw,
    )


def add_mentions(
    engine: sa.Engine,
    brand: str,
    start: datetime,
    *,
    negative: int = 0,
    neutral: int = 0,
    positive: int = 0,
    spread: timedelta = timedelta(minutes=10),
) -> None:
    """Write mentions spread evenly over [start, start + spread)."""
    batch = []
    for label, n in (("negative", negative), ("neutral", neutral), ("positive", positive)):
        for i in range(n):
            batch.append(mention(brand, start + spread * (i / max(n, 1)), label))
    with engine.begin() as conn:
        insert_mentions(conn, batch)


def add_history(
    engine: sa.Engine, brand: str, now: datetime, *, days: int = 7, negative: int = 2, neutral: int = 6
) -> None:
    """A quiet, steady history: every 15-minute bucket of the previous ``days`` days."""
    start = now - timedelta(days=days)
    start = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    batch = []
    t = start
    while t < now - timedelta(minutes=30):
        for i in range(negative):
            batch.append(mention(brand, t + timedelta(minutes=1 + i), "negative"))
        for i in range(neutral):
            batch.append(mention(brand, t + timedelta(minutes=1 + i), "neutral"))
        t += timedelta(minutes=15)
    with engine.begin() as conn:
        insert_mentions(conn, batch)
