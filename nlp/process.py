"""TextProcessor: RawItems in, Mentions (or a DropReason each) out. The only entry point
monitor.pipeline calls.

    processor = TextProcessor(brands, model=SentimentModel.load())
    processor.deduper.seed(store.recent_hashes(...))          # after a restart
    result = processor.process(items, fetched_at=clock.now())
    result.mentions       # list[Mention], scored in one batch
    result.dropped        # list[(RawItem, DropReason)] for the drop counters

Per item: join title and body -> normalise -> bare repost? (REPOST) -> empty? (EMPTY) ->
tokens -> brand match (NO_BRAND, or EXCLUDED when an alias only occurred inside an exclusion)
-> dedupe (DUPLICATE / NEAR_DUPLICATE) -> sentiment for all survivors in one batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import Brand, DropReason, Mention, RawItem
from nlp.brands import BrandMatcher
from nlp.dedupe import Deduper, content_hash, dedupe_text, simhash
from nlp.features import SYMBOL
from nlp.normalize import is_repost_only, normalize
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel

log = logging.getLogger(__name__)


@dataclass
class ProcessResult:
    mentions: list[Mention] = field(default_factory=list)
    dropped: list[tuple[RawItem, DropReason]] = field(default_factory=list)


@dataclass
class _Pending:
    item: RawItem
    original: str
    normalized: str
    tokens: list[str]
    detail_matches: tuple
    chash: str
    shash: int


def original_text(item: RawItem) -> str:
    """The text a Mention keeps: title and body joined by a newline when both are present."""
    title = (item.title or "").strip()
    body = item.text or ""
    if title and body.strip() and not body.strip().startswith(title):
        return f"{title}\n{body}"
    return body if body.strip() else title


class TextProcessor:
    """Compose normalise -> repost check -> tokens -> brands -> dedupe -> sentiment.

    ``segmenter`` defaults to a new Segmenter; the brand aliases are added to it either way.
    ``deduper`` defaults to one with the defaults from monitor.defaults (``self.deduper``).
    Thread-safe: process() may be called from several source threads.
    """

    def __init__(
        self,
        brands: Sequence[Brand],
        *,
        model: SentimentModel,
        segmenter: Segmenter | None = None,
        deduper: Deduper | None = None,
    ) -> None:
        self.matcher = BrandMatcher(brands)
        self.segmenter = segmenter or Segmenter()
        self.segmenter.add_words(self.matcher.segmenter_words())
        self.model = model
        self.deduper = deduper if deduper is not None else Deduper()
        self._lock = threading.Lock()  # keeps dedupe decisions in item order across threads

    def process(self, items: Sequence[RawItem], fetched_at: datetime) -> ProcessResult:
        result = ProcessResult()
        pending: list[_Pending] = []
        with self._lock:
            for item in items:
                reason, p = self._prepare(item, fetched_at)
                if reason is not None:
                    result.dropped.append((item, reason))
                    log.debug(
                        "item dropped source=%s id=%s reason=%s",
                        item.source_id,
                        item.external_id,
                        reason.value,
                    )
                elif p is not None:
                    pending.append(p)
        if not pending:
            return result
        scored = self.model.score_detail([p.normalized for p in pending], [p.tokens for p in pending])
        sentiments = [self.model.to_sentiment(prob) for prob, _lang in scored]
        for p, (_prob, lang), sentiment in zip(pending, scored, sentiments, strict=True):
            matches = p.detail_matches
            item = p.item
            result.mentions.append(
                Mention(
                    source_id=item.source_id,
                    external_id=item.external_id,
                    text=p.original,
                    brands=tuple(dict.fromkeys(m.brand for m in matches)),
                    sentiment=sentiment,
                    published_at=item.published_at or fetched_at,
                    fetched_at=fetched_at,
                    content_hash=p.chash,
                    simhash=p.shash,
                    url=item.url,
                    author=item.author,
                    title=item.title,
                    engagement=item.engagement,
                    author_followers=item.author_followers,
                    platform=item.platform,
                    lang=None if lang == SYMBOL else lang,
                    matches=matches,
                    tokens=tuple(p.tokens),
                )
            )
        return result

    def _prepare(self, item: RawItem, fetched_at: datetime) -> tuple[DropReason | None, _Pending | None]:
        original = original_text(item)
        normalized = normalize(original)
        if not normalized:
            return DropReason.EMPTY, None
        if is_repost_only(original):
            return DropReason.REPOST, None
        tokens = self.segmenter.tokens(normalized)
        detail = self.matcher.match_detail(normalized, tokens)
        if not detail.matches:
            return (DropReason.EXCLUDED if detail.excluded else DropReason.NO_BRAND), None
        canon = dedupe_text(original)
        chash = content_hash(canon)
        shash = simhash(canon)
        reason = self.deduper.check(
            chash, shash, seen_at=fetched_at, length=len(canon), key=(item.source_id, item.external_id)
        )
        if reason is not None:
            return reason, None
        return None, _Pending(item, original, normalized, tokens, tuple(detail.matches), chash, shash)
