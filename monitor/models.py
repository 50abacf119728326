"""The shared model: plain frozen dataclasses and str enums used by every package.

No I/O here and no imports of our own modules, so sources, nlp, alerts and the store can all
depend on it without depending on each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


@dataclass(frozen=True)
class RawItem:
    """One item as a source fetched it, before any text processing.

    ``external_id`` is stable across polls (feed entry id, platform post id, or a hash of the
    row when the export has none); together with ``source_id`` it is the idempotency key.
    """

    source_id: str
    external_id: str
    text: str
    url: str | None = None
    author: str | None = None
    title: str | None = None
    published_at: datetime | None = None  # timezone-aware UTC; None when the source gives none
    engagement: int = 0  # likes + reposts + comments, as the platform counts them
    author_followers: int | None = None  # the author's reach, when the export carries it
    platform: str | None = None  # weibo, douyin, rss, ...
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Exports can carry lone surrogates (JSON "\ud800"), which no UTF-8 store accepts; one
        # such post would fail every poll and stall its source. Replace them with U+FFFD here,
        # once, so every later stage sees valid text.
        for name in _SCRUBBED_FIELDS:
            value = getattr(self, name)
            if value is not None and not value.isascii():
                clean = scrub_surrogates(value)
                if clean is not value:
                    object.__setattr__(self, name, clean)


_SURROGATE = re.compile("[\ud800-\udfff]")
_SCRUBBED_FIELDS = ("source_id", "external_id", "text", "url", "author", "title", "platform")


def scrub_surrogates(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (the same object when there are none)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


class SentimentLabel(str, Enum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"  # the model is not confident either way (probability inside the band)
    POSITIVE = "positive"


@dataclass(frozen=True)
class Sentiment:
    label: SentimentLabel
    score: float  # calibrated probability that the text is positive, 0..1
    model_version: str


@dataclass(frozen=True)
class BrandMatch:
    brand: str  # brand id from the config
    alias: str  # the alias that matched, as written in the config
    start: int  # offset of the match in the normalised text


@dataclass(frozen=True)
class Mention:
    """A RawItem that matched at least one brand, deduplicated and scored."""

    source_id: str
    external_id: str
    text: str  # original text, as fetched (title and body joined)
    brands: tuple[str, ...]
    sentiment: Sentiment
    published_at: datetime  # falls back to fetched_at when the source gives no time
    fetched_at: datetime
    content_hash: str  # sha1 of the normalised text, for exact duplicates
    simhash: int  # 64-bit SimHash of the normalised text, for near duplicates (unsigned)
    url: str | None = None
    author: str | None = None
    title: str | None = None
    engagement: int = 0
    author_followers: int | None = None
    platform: str | None = None
    lang: str | None = None  # "zh" or "en": which sentiment path scored it
    matches: tuple[BrandMatch, ...] = ()
    tokens: tuple[str, ...] = field(default=(), compare=False, hash=False, repr=False)
    keywords: tuple[str, ...] = ()  # top content terms (TF-IDF), computed at ingest by nlp.keywords
    crisis_terms: tuple[str, ...] = ()  # terms of the configured crisis word list found in the text


class DropReason(str, Enum):
    """Why nlp.process did not turn a RawItem into a Mention (a metric label)."""

    NO_BRAND = "no_brand"
    EXCLUDED = "excluded"  # only matched inside an exclusion phrase
    DUPLICATE = "duplicate"  # same normalised text seen before
    NEAR_DUPLICATE = "near_duplicate"  # SimHash within the distance threshold
    REPOST = "repost"  # a bare repost marker with nothing new
    EMPTY = "empty"


class AlertState(str, Enum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not AlertState.RESOLVED


@dataclass(frozen=True)
class Alert:
    id: int
    group_key: str  # brand + incident: one alert per brand and incident, never one per mention
    brand: str
    level: str  # level id from the crisis plan
    state: AlertState
    opened_at: datetime
    updated_at: datetime
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    ack_deadline: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    last_signal_at: datetime | None = None
    drill: bool = False


class NotifyReason(str, Enum):
    FIRST = "first"
    ESCALATED = "escalated"
    REPEAT = "repeat"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Notification:
    """What a notifier sends: already rendered, addressed to one contact on one channel."""

    outbox_id: int
    alert_id: int
    brand: str
    level: str
    reason: NotifyReason
    channel: str  # notifier id from the config
    contact: str  # contact id from the plan
    subject: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    attempt: int = 1
    drill: bool = False


@dataclass(frozen=True)
class Brand:
    """A brand to watch, as configured. Matching is script-insensitive (繁/简) and, for
    Latin aliases, case-insensitive on word boundaries."""

    id: str  # stable id used in storage, metrics labels and the plan
    name: str  # display name
    aliases: tuple[str, ...] = ()  # other names; ``name`` always counts as an alias
    exclusions: tuple[str, ...] = ()  # phrases containing an alias that do NOT mean the brand

    def all_aliases(self) -> tuple[str, ...]:
        seen: dict[str, None] = {self.name: None}
        for a in self.aliases:
            seen.setdefault(a, None)
        return tuple(seen)
