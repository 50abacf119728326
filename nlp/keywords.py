"""Per-mention terms computed at ingest, from the tokens the processor already has.

    crisis = CrisisTerms.load(Path("config/dict/crisis_keywords.txt"))
    crisis.match("青禾牛奶被曝变质，已经召回", ["青禾牛奶", "被", "曝", "变质", "，", "已经", "召回"])
    # ('变质', '召回')
    extractor = KeywordExtractor(exclude=["青禾牛奶"])
    extractor.top(["青禾牛奶", "变质", "召回", "了", "变质"])     # ('变质', '召回')

``CrisisTerms`` matches a word list: Chinese terms on whole tokens (the processor adds them to
the Segmenter, so jieba keeps them in one piece), Latin terms case-insensitively on word
boundaries in the normalised text ("recall" matches "Recall!" but not "recalls"; list each
form you mean). Each term is reported once, in list order.

``KeywordExtractor`` keeps a mention's top content terms by TF-IDF: tokens minus stop words,
punctuation, numbers, single characters and brand aliases, weighted by jieba's IDF table
(``jieba/analyse/idf.txt``, loaded once per process; unknown words get its median IDF). It is
a dictionary lookup per token, cheap enough to run on every stored mention.
"""

from __future__ import annotations

import heapq
import logging
import re
import statistics
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import jieba

from monitor import defaults
from monitor.errors import ConfigError

log = logging.getLogger(__name__)

IDF_PATH = Path(jieba.__file__).resolve().parent / "analyse" / "idf.txt"
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORDISH = re.compile(r"\w")

# Words too common to say anything about a mention. The IDF table already ranks most Chinese
# function words low, but it has no English entries, so English needs an explicit list.
STOP_WORDS: frozenset[str] = frozenset(
    """
    the a an and or but if of to in on at by for with from as is are was were be been being am
    it its this that these those there here i me my we our you your he she his her they them their
    not no so too very just than then also only can could will would should shall may might must do
    does did done have has had having get got what which who whom when where why how all any some
    more most much many such own same other into out over under again about after before up down
    off via rt amp http https www com
    的 了 和 是 在 也 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 她们 它们 这个 那个 这样 那样
    自己 什么 怎么 因为 所以 但是 如果 还是 已经 现在 今天 真的 就是 不是 可以 还有 一下 这些
    那些 然后 觉得 知道 一直 时候 感觉 大家 这么 那么 一样 有点 非常 其实 为了 对于 以及
    """.split()
)

_CACHE_MAX = 200_000  # tokens whose weight a KeywordExtractor remembers

_idf_lock = threading.Lock()
_idf: tuple[dict[str, float], float] | None = None


def load_idf(path: Path = IDF_PATH) -> tuple[dict[str, float], float]:
    """jieba's IDF table and its median, read once per process (~270k words, ~0.3 s)."""
    global _idf
    with _idf_lock:
        if _idf is None:
            table: dict[str, float] = {}
            try:
                with path.open(encoding="utf-8") as fh:
                    for line in fh:
                        word, _, value = line.rstrip("\n").partition(" ")
                        if value:
                            table[word] = float(value)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot load the IDF table: {exc}", file=str(path)) from exc
            if not table:
                raise ConfigError("the IDF table is empty", file=str(path))
            _idf = (table, statistics.median(table.values()))
            log.info("idf table loaded path=%s words=%s", path, len(table))
        return _idf


def _is_content(token: str) -> bool:
    """A token worth keeping as a keyword: 2+ characters with a letter or Han character in it."""
    if len(token) < 2:
        return False
    if _HAN.search(token):
        return True
    return token.isascii() and any(c.isalpha() for c in token) and _WORDISH.fullmatch(token[0]) is not None


class KeywordExtractor:
    """Top TF-IDF content terms of one tokenised mention.

        extractor = KeywordExtractor(exclude=brand_aliases, limit=5)
        extractor.top(tokens)   # e.g. ('变质', '投诉', '客服')

    ``exclude``: words never reported (brand aliases: every mention of a brand contains them;
    each word of a multi-word alias too).
    Thread-safe: the only shared state is a weight cache whose entries are idempotent.
    """

    def __init__(self, exclude: Iterable[str] = (), *, limit: int = defaults.MENTION_KEYWORDS) -> None:
        if limit < 1:
            raise ConfigError(f"keyword limit must be at least 1, got {limit!r}")
        self.limit = limit
        self._idf, self._median = load_idf()
        self._weights: dict[str, float | None] = {}  # token -> IDF weight, None = not a content term
        self._skip = set(STOP_WORDS)
        for w in exclude:
            # a multi-word alias ("ACME Coffee") arrives as separate tokens: skip each word too
            self._skip.update(p.lower() for p in (w.strip(), *w.split()) if p)

    def top(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """The ``limit`` highest-scoring content terms, best first (ties: first seen first)."""
        cache = self._weights
        tf: dict[str, float] = {}
        for tok in tokens:
            try:
                w = cache[tok]
            except KeyError:
                w = self._weigh(tok)
            if w is not None:
                t = tok.lower() if tok.isascii() else tok
                tf[t] = tf.get(t, 0.0) + w  # term frequency x IDF, summed per occurrence
        if not tf:
            return ()
        # enumerate order breaks ties, so the result is deterministic for equal scores
        scored = ((score, -i, t) for i, (t, score) in enumerate(tf.items()))
        return tuple(t for _s, _i, t in heapq.nlargest(self.limit, scored))

    def _weigh(self, tok: str) -> float | None:
        """A token's IDF weight, None when it is not a content term; cached, since a feed's
        vocabulary repeats (bounded, so a stream of unique tokens cannot grow it forever)."""
        t = tok.lower() if tok.isascii() else tok
        w = None if t in self._skip or not _is_content(t) else self._idf.get(t, self._median)
        if len(self._weights) >= _CACHE_MAX:
            self._weights.clear()
        self._weights[tok] = w
        return w


class CrisisTerms:
    """A crisis word list: which of its terms a mention contains.

        terms = CrisisTerms(["召回", "食物中毒", "recall", "class action"])
        terms.segmenter_words()   # the Chinese terms, to keep them whole when tokenising
        terms.match("Big recall at ACME", ["big", "recall", "at", "acme"])   # ('recall',)

    Chinese (and other non-Latin) terms match whole tokens; terms in Latin letters or digits
    match the normalised text case-insensitively on word boundaries. Thread-safe.
    """

    def __init__(self, terms: Iterable[str], *, source: str | None = None) -> None:
        self.source = source
        ordered: dict[str, None] = {}
        for term in terms:
            t = unicodedata.normalize("NFKC", term).strip()
            if t:
                ordered.setdefault(t.lower() if t.isascii() else t, None)
        self.terms: tuple[str, ...] = tuple(ordered)
        self._order = {t: i for i, t in enumerate(self.terms)}
        self._token_terms = frozenset(t for t in self.terms if not t.isascii())
        latin = sorted((t for t in self.terms if t.isascii()), key=len, reverse=True)  # longest first
        self._latin_re = (
            re.compile(
                r"(?<![a-z0-9])(" + "|".join(r"\s+".join(map(re.escape, t.split())) for t in latin) + r")(?![a-z0-9])",
                re.IGNORECASE,
            )
            if latin
            else None
        )

    @classmethod
    def load(cls, path: Path | str) -> CrisisTerms:
        """Read a word list: one term per line; blank lines and lines starting with # are skipped."""
        p = Path(path)
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read crisis keywords: {exc}", file=str(p)) from exc
        terms = [ln.strip().lstrip("\ufeff") for ln in lines]
        found = cls([t for t in terms if t and not t.startswith("#")], source=str(p))
        if not found.terms:
            raise ConfigError("crisis keyword list has no terms", file=str(p))
        log.info("crisis keywords loaded path=%s terms=%s", p, len(found.terms))
        return found

    def __len__(self) -> int:
        return len(self.terms)

    def segmenter_words(self) -> list[str]:
        """Terms the Segmenter must keep whole so that token matching sees them."""
        return sorted(self._token_terms)

    def match(self, normalized_text: str, tokens: Sequence[str]) -> tuple[str, ...]:
        """The list's terms found in one mention, in list order, each once."""
        found: set[str] = set()
        if self._token_terms:
            found.update(t for t in tokens if t in self._token_terms)
        if self._latin_re is not None:
            for m in self._latin_re.finditer(normalized_text):
                found.add(" ".join(m.group(1).lower().split()))
        if not found:
            return ()
        return tuple(sorted(found, key=self._order.__getitem__))
