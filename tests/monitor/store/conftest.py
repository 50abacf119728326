"""Store fixtures: a migrated engine per test (on SQLite and PostgreSQL) and a Mention factory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.models import Mention, Sentiment, SentimentLabel
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """A fresh database brought to head through the migrations (never create_all)."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


MentionFactory = Callable[..., Mention]


@pytest.fixture
def make_mention() -> MentionFactory:
    """``make_mention("id-1", brands=("acme",), label="negative", published_at=...)``."""

    def build(external_id: str, **kw: Any) -> Mention:
        text = kw.pop("text", f"阿克米咖啡 mention {external_id}")
        label = SentimentLabel(kw.pop("label", "neutral"))
        score = kw.pop("score", {"negative": 0.1, "neutral": 0.5, "positive": 0.9}[label.value])
        fields: dict[str, Any] = {
            "source_id": "demo-weibo",
            "external_id": external_id,
            "text": text,
            "brands": ("acme",),
            "sentiment": Sentiment(label, score, "test-1"),
            "published_at": T0,
            "fetched_at": T0,
            "content_hash": hashlib.sha1(text.encode()).hexdigest(),
            "simhash": int(hashlib.sha1(text.encode()).hexdigest()[:16], 16),
            "platform": "weibo",
            "lang": "zh",
        }
        fields.update(kw)
        return Mention(**fields)

    return build
