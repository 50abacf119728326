"""A small hand-built history for the report tests, written through the store's real insert
path, and alerts written through the real state machine (alerts/escalation.py).

The week reported is Mon 2026-11-16 .. Sun 2026-11-22 in Asia/Shanghai (UTC+8), so local
midnight is 16:00 UTC the day before: the fixtures put mentions on both sides of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from alerts.plan import CrisisPlan, load_plan
from monitor.models import Mention, Sentiment, SentimentLabel
from monitor.store import migrate
from monitor.store.engine import make_engine
from monitor.store.mentions import insert_mentions

TZ = ZoneInfo("Asia/Shanghai")
LAST_DAY = date(2026, 11, 22)  # Sunday
BRANDS = [("acme", "阿克米咖啡"), ("beta", "贝塔手机"), ("gamma", "伽马乳业")]

PLAN: dict[str, Any] = {
    "contacts": [
        {"id": "zhang-san", "name": "张三", "channels": ["mail", "hook"]},
        {"id": "li-si", "name": "李四", "channels": ["hook"], "lang": "en"},
    ],
    "levels": [
        {"id": "warning", "name": "预警", "when": {"negative_spike": 3.0, "min_negative": 10},
         "notify": ["zhang-san"], "ack_within": "30m"},
        {"id": "crisis", "name": "危机", "when": {"negative_spike": 8.0, "min_negative": 40},
         "notify": ["li-si"], "ack_within": "15m"},
    ],
}


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(UTC)


@pytest.fixture
def plan() -> CrisisPlan:
    return load_plan(PLAN, file="plan.yaml", notifier_ids={"mail", "hook"})


@pytest.fixture
def store(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


_ids = itertools.count(1)


def mention(brands: str | tuple[str, ...], at: datetime, label: str = "neutral", **kw: Any) -> Mention:
    n = next(_ids)
    return Mention(
        source_id=kw.pop("source_id", "weibo-export"),
        external_id=f"r{n}",
        text=kw.pop("text", f"第{n}条"),
        brands=(brands,) if isinstance(brands, str) else brands,
        sentiment=Sentiment(SentimentLabel(label), 0.5, "test-1"),
        published_at=at,
        fetched_at=at,
        content_hash=f"{n:040d}",
        simhash=n,
        url=kw.pop("url", f"https://weibo.example/{n}"),
        author=kw.pop("author", f"user{n}"),
        platform=kw.pop("platform", "weibo"),
        **kw,
    )


def write(engine: sa.Engine, batch: list[Mention]) -> list[Mention]:
    with engine.begin() as conn:
        return insert_mentions(conn, batch)
