"""Text normalisation for matching, deduplication and scoring (the original text is kept).

    >>> normalize("<p>華為&amp;ＡＣＭＥ  新品 https://t.cn/abc @小王 </p>")
    '华为&ACME 新品 小王'
    >>> is_repost_only("转发微博//@小王: 阿克米咖啡太难喝")
    True
    >>> strip_repost_chain("同感//@小王: 阿克米咖啡太难喝")
    '同感'

Order matters: HTML is stripped before entities are unescaped (so ``&lt;b&gt;`` stays text),
NFKC runs before URL and @-mention rules (full-width ``＠`` and ``：`` become ASCII), and the
Traditional -> Simplified step runs last on the cleaned text. Case is kept: English matching
is case-insensitive on its own and VADER reads capitals as emphasis.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import opencc

# Tags, comments and <script>/<style> bodies. Feeds carry HTML fragments in their summaries.
_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<!--.*?-->|<[A-Za-z/!][^<>]*>", re.DOTALL)
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"'\u3000-\u303f\uff01-\uff5e\u4e00-\u9fff]*", re.IGNORECASE)
# "@name" as Weibo/Twitter write it; not the "@" inside an e-mail address (preceded by a word char).
_MENTION_RE = re.compile(r"(?<![\w.])@(?=[\w\u4e00-\u9fff])")
_WS_RE = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

# Repost markers. Weibo: "own words//@a: a's words//@b: original"; Twitter: "RT @a: original".
_CHAIN_RE = re.compile(r"//\s*@[^:：\s]{1,40}\s*[:：]")
_RT_RE = re.compile(r"(?:^|\s)RT\s+@[\w\-]{1,40}\s*:?", re.IGNORECASE)
# Texts that carry nothing of the reposter's own (compared after lower-casing and trimming).
_BARE_REPOST = frozenset(
    {
        "",
        "转发微博",
        "轉發微博",
        "转发",
        "轉發",
        "转",
        "repost",
        "reposted",
        "rt",
        "retweet",
        "分享",
        "转发了",
        "轉發了",
        "转发此微博",
        "//",
    }
)
_TRIM_CHARS = " \t\r\n.,!?;:~·。，！？；：…、'\"“”‘’()（）[]【】-—_/|"


def _first_value(value: str) -> str:
    # OpenCC dictionary values list candidates separated by spaces; the converter uses the first.
    return value.split(" ")[0]


def _t2s_triggers(converter: opencc.OpenCC) -> frozenset[str]:
    """Characters a text must contain for the t2s conversion to change it.

    The converter replaces dictionary keys found in the text by their (first) value. A key
    whose value is the key itself changes nothing, so a text changes only if it contains a
    *changing* key, and then it contains every character of that key. The set holds every
    single-character changing key (華, 為, ...) and, for each multi-character changing key
    that contains none of those (回覆 -> 回复: 回 and 覆 each map to themselves), one of its
    characters, chosen greedily to cover many such keys and preferring characters outside
    GB2312, which are rare in Simplified text (衹 for 衹得, never 得). A text with none of
    them is returned unchanged by the converter, so skipping it is exact, not a heuristic.

    Characters that only map to themselves (一, 上, 不, ... appear in phrase keys) are not in
    the set: the old test on "any character of any key" sent most Simplified posts through
    the (slow, pure-Python) converter for nothing.
    """
    changing: list[str] = []
    for _max_len, _min_len, mapping in converter.dict_cache.values():
        changing.extend(key for key, value in mapping.items() if _first_value(value) != key)
    chars = {key for key in changing if len(key) == 1}
    uncovered = [key for key in changing if len(key) > 1 and chars.isdisjoint(key)]
    while uncovered:
        counts = Counter(c for key in uncovered for c in set(key))
        best = min(counts, key=lambda c: (_in_gb2312(c), -counts[c], c))
        chars.add(best)
        uncovered = [key for key in uncovered if best not in key]
    return frozenset(chars)


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


class _T2S:
    """The one cached OpenCC converter (loading its dictionaries takes a few milliseconds)."""

    _lock = threading.Lock()
    _converter: opencc.OpenCC | None = None
    _triggers: frozenset[str] = frozenset()

    @classmethod
    def converter(cls) -> opencc.OpenCC:
        if cls._converter is None:
            with cls._lock:
                if cls._converter is None:
                    conv = opencc.OpenCC("t2s")
                    cls._triggers = _t2s_triggers(conv)
                    cls._converter = conv
        return cls._converter

    @classmethod
    def triggers(cls) -> frozenset[str]:
        cls.converter()
        return cls._triggers

    @classmethod
    def convert(cls, text: str) -> str:
        conv = cls._converter or cls.converter()
        if cls._triggers.isdisjoint(text):  # hot path: already Simplified, or no Chinese at all
            return text
        return conv.convert(text)


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC t2s); other text is returned unchanged."""
    return _T2S.convert(text)


def clean(text: str) -> str:
    """The script-preserving part of :func:`normalize`: HTML, NFKC, URLs, whitespace.

    @-signs and repost markers survive, so :func:`is_repost_only` can still read them.
    """
    if not text:
        return ""
    if "<" in text:
        text = _SCRIPT_RE.sub(" ", text)
        text = _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    text = _URL_RE.sub(" ", text)
    return _WS_RE.sub(" ", text).strip()


def normalize(text: str) -> str:
    """The form used for brand matching, deduplication and scoring.

    HTML tags stripped and entities unescaped, NFKC (full-width -> half-width), URLs removed,
    "@name" reduced to "name" (a tagged brand account still names the brand), whitespace
    collapsed, Traditional converted to Simplified.
    """
    return _finish(clean(text))


def _finish(cleaned: str) -> str:
    """normalize() after clean(): drop the @ of @-mentions, Traditional -> Simplified."""
    if "@" in cleaned:
        cleaned = _MENTION_RE.sub("", cleaned)
    return to_simplified(cleaned)


def _clean_is_stable(cleaned: str) -> bool:
    """True when clean() would return ``cleaned`` (an output of clean()) unchanged.

    A second clean() can only change its own output through a tag or entity that NFKC or
    unescaping produced ("&lt;b&gt;", "＜b＞") or through NFKC recomposing characters that a
    removed zero-width character had kept apart. Its URL, whitespace and zero-width steps
    find nothing left to do.
    """
    return "<" not in cleaned and "&" not in cleaned and unicodedata.is_normalized("NFKC", cleaned)


@dataclass(frozen=True)
class TextForms:
    """The forms of one text, computed once and shared by matching, dedupe and scoring.

        forms = TextForms.of("同感//@小王: 華為太贵了")
        forms.normalized       # '同感//小王: 华为太贵了'     == normalize(text)
        forms.own, forms.chain # '同感', ('華為太贵了',)      == split_repost(text)
        forms.repost_only      # False                      == is_repost_only(text)
        forms.scoring_text()   # normalize(forms.normalized), what SentimentModel reads

    Each attribute equals what the module-level function returns for the same text; the
    point is to run clean() once per text instead of once per use.
    """

    cleaned: str
    normalized: str
    own: str
    chain: tuple[str, ...]
    stable: bool  # clean(cleaned) == cleaned (see _clean_is_stable)

    @classmethod
    def of(cls, text: str) -> TextForms:
        cleaned = clean(text)
        own, chain = _split_cleaned(cleaned)
        return cls(cleaned, _finish(cleaned), own, tuple(chain), _clean_is_stable(cleaned))

    @property
    def repost_only(self) -> bool:
        return _repost_only(self.own, self.chain)

    def scoring_text(self) -> str:
        """normalize(self.normalized), without the work when it cannot change anything.

        When normalisation only cleaned the text (no @-sign dropped, nothing converted) and the
        cleaned text is stable under clean(), normalising it again returns it unchanged.
        """
        if self.stable and self.normalized == self.cleaned:
            return self.normalized
        return normalize(self.normalized)

    def normalized_join(self, parts: Sequence[str]) -> str:
        """normalize(" ".join(parts)) for parts taken from this text's own words and chain."""
        joined = " ".join(p for p in parts if p)
        if self.stable and joined == self.cleaned:
            return self.normalized  # normalize(cleaned) == _finish(clean(cleaned)) == _finish(cleaned)
        return normalize(joined)


def split_repost(text: str) -> tuple[str, list[str]]:
    """Split a (cleaned or raw) text into the reposter's own words and the quoted chain.

    Returns ``(own, chain)`` where ``chain`` lists the quoted hops, nearest first, each
    without its ``//@name:`` / ``RT @name:`` marker. The last element is the original post.
    """
    return _split_cleaned(clean(text))


def _split_cleaned(text: str) -> tuple[str, list[str]]:
    cuts = [(m.start(), m.end()) for m in _CHAIN_RE.finditer(text)]
    cuts += [(m.start(), m.end()) for m in _RT_RE.finditer(text)]
    if not cuts:
        return text, []
    cuts.sort()
    own = text[: cuts[0][0]].strip()
    chain: list[str] = []
    for i, (_start, end) in enumerate(cuts):
        stop = cuts[i + 1][0] if i + 1 < len(cuts) else len(text)
        chain.append(text[end:stop].strip())
    return own, chain


def strip_repost_chain(text: str) -> str:
    """The reposter's own words, without the quoted ``//@a: ...`` or ``RT @a: ...`` chain."""
    return split_repost(text)[0]


def is_repost_only(text: str) -> bool:
    """True for a bare repost: a marker ("转发微博", "Repost", "RT @x:", "//@x:" chain) and no
    new words of the reposter's own. A text with no repost marker at all is never a repost."""
    return _repost_only(*split_repost(text))


def _repost_only(own: str, chain: Sequence[str]) -> bool:
    bare = own.lower().strip(_TRIM_CHARS) in _BARE_REPOST
    if chain:
        return bare
    # No chain: only the explicit "转发微博" / "Repost" placeholders count.
    return bool(own) and bare
