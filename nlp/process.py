"""TextProcessor: RawItems in, Mentions (or a DropReason each) out. The only entry point
monitor.pipeline calls.

    processor = TextProcessor(brands, model=SentimentModel.load())
    processor.deduper.seed(store.recent_hashes(...))          # after a restart
    result = processor.process(items, fetched_at=clock.now())
    result.mentions       # list[Mention], scored in one batch
    result.dropped        # list[(RawItem, DropReason)] for the drop counters

Per item: join title and body -> normalise -> bare repost? (REPOST) -> empty? (EMPTY) ->
tokens -> brand match (NO_BRAND, or EXCLUDED when an alias only occurred inside an exclusion)
-> dedupe (DUPLICATE / NEAR_DUPLICATE) -> sentiment for all survivors in one batch; each survivor
also gets its keywords and crisis terms (nlp.keywords) from the same tokens.

Each text is cleaned and normalised once (``TextForms``) and tokenised once; the normalised
text and the tokens are shared by brand matching, dedupe and the sentiment model, and SimHash
and sentiment features are computed per batch rather than per item.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import Brand, DropReason, Mention, RawItem
from nlp.brands import BrandMatcher
from nlp.dedupe import Deduper, content_hash, dedupe_text_of, simhashes
from nlp.features import SYMBOL
from nlp.keywords import CrisisTerms, KeywordExtractor
from nlp.normalize import TextForms
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
    scoring_text: str  # normalize(normalized), what the sentiment model reads
    tokens: list[str]
    detail_matches: tuple
    chash: str = ""  # set after the batch is hashed
    shash: int = 0


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
    ``crisis_terms``: the crisis word list (``nlp.keywords.CrisisTerms``) matched on every stored
    mention; None matches nothing. ``keywords`` defaults to a KeywordExtractor that skips the
    brand aliases. Both read the tokens already cut for brand matching (no second pass).
    Thread-safe: process() may be called from several source threads.
    """

    def __init__(
        self,
        brands: Sequence[Brand],
        *,
        model: SentimentModel,
        segmenter: Segmenter | None = None,
        deduper: Deduper | None = None,
        crisis_terms: CrisisTerms | None = None,
        keywords: KeywordExtractor | None = None,
    ) -> None:
        self.matcher = BrandMatcher(brands)
        self.segmenter = segmenter or Segmenter()
        self.segmenter.add_words(self.matcher.segmenter_words())
        self.crisis_terms = crisis_terms
        if crisis_terms is not None:
            self.segmenter.add_words(crisis_terms.segmenter_words())  # whole tokens, so they match
        aliases = [a for b in brands for a in b.all_aliases()] + self.matcher.segmenter_words()
        self.keywords = keywords if keywords is not None else KeywordExtractor(exclude=aliases)
        self.model = model
        self.deduper = deduper if deduper is not None else Deduper()
        self._lock = threading.Lock()  # keeps dedupe decisions in item order across threads

    def process(self, items: Sequence[RawItem], fetched_at: datetime) -> ProcessResult:
        result = ProcessResult()
        dropped: list[tuple[int, RawItem, DropReason]] = []
        matched: list[tuple[int, _Pending, str]] = []  # (item index, pending, dedupe text)
        for i, item in enumerate(items):
            reason, prepared = self._prepare(item)
            if prepared is not None:
                matched.append((i, *prepared))
            elif reason is not None:
                dropped.append((i, item, reason))
        # Hash the survivors as one batch, then decide duplicates in item order under the lock.
        canons = [canon for _i, _p, canon in matched]
        shashes = simhashes(canons)
        pending: list[_Pending] = []
        with self._lock:
            for (i, p, canon), shash in zip(matched, shashes, strict=True):
                p.chash, p.shash = content_hash(canon), shash
                key = (p.item.source_id, p.item.external_id)
                reason = self.deduper.check(p.chash, shash, seen_at=fetched_at, length=len(canon), key=key)
                if reason is None:
                    pending.append(p)
                else:
                    dropped.append((i, p.item, reason))
        dropped.sort(key=lambda d: d[0])
        for _i, item, reason in dropped:
            result.dropped.append((item, reason))
            log.debug("item dropped source=%s id=%s reason=%s", item.source_id, item.external_id, reason.value)
        if not pending:
            return result
        scored = self.model.score_detail(
            [p.scoring_text for p in pending], [p.tokens for p in pending], normalized=True
        )
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
                    keywords=self.keywords.top(p.tokens),
                    crisis_terms=(
                        self.crisis_terms.match(p.normalized, p.tokens) if self.crisis_terms is not None else ()
                    ),
                )
            )
        return result

    def _prepare(self, item: RawItem) -> tuple[DropReason | None, tuple[_Pending, str] | None]:
        """Normalise, tokenise and match one item: its drop reason, or (pending, dedupe text)."""
        original = original_text(item)
        # One clean/normalise pass per item; matching, dedupe and scoring share its forms.
        forms = TextForms.of(original)
        normalized = forms.normalized
        if not normalized:
            return DropReason.EMPTY, None
        if forms.repost_only:
            return DropReason.REPOST, None
        tokens = self.segmenter.tokens(normalized)
        detail = self.matcher.match_detail(normalized, tokens)
        if not detail.matches:
            return (DropReason.EXCLUDED if detail.excluded else DropReason.NO_BRAND), None
        pending = _Pending(item, original, normalized, forms.scoring_text(), tokens, tuple(detail.matches))
        return None, (pending, dedupe_text_of(forms))
