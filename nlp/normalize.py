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


def _t2s_chars(converter: opencc.OpenCC) -> frozenset[str]:
    """Every character that begins or occurs in a t2s dictionary key.

    A text with none of them cannot change under conversion, so skipping it is exact,
    not a heuristic: every dictionary key needs at least one of these characters to match.
    """
    chars: set[str] = set()
    for _max_len, _min_len, mapping in converter.dict_cache.values():
        for key in mapping:
            chars.update(key)
    # ASCII never converts; keeping it out makes the set test cheap for English text.
    return frozenset(c for c in chars if ord(c) > 0x7F)


class _T2S:
    """The one cached OpenCC converter (loading its dictionaries takes a few milliseconds)."""

    _lock = threading.Lock()
    _converter: opencc.OpenCC | None = None
    _chars: frozenset[str] = frozenset()

    @classmethod
    def convert(cls, text: str) -> str:
        if cls._converter is None:
            with cls._lock:
                if cls._converter is None:
                    conv = opencc.OpenCC("t2s")
                    cls._chars = _t2s_chars(conv)
                    cls._converter = conv
        if cls._chars.isdisjoint(text):  # hot path: already Simplified, or no Chinese at all
            return text
        return cls._converter.convert(text)


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
    text = clean(text)
    if "@" in text:
        text = _MENTION_RE.sub("", text)
    return to_simplified(text)


def split_repost(text: str) -> tuple[str, list[str]]:
    """Split a (cleaned or raw) text into the reposter's own words and the quoted chain.

    Returns ``(own, chain)`` where ``chain`` lists the quoted hops, nearest first, each
    without its ``//@name:`` / ``RT @name:`` marker. The last element is the original post.
    """
    text = clean(text)
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
    own, chain = split_repost(text)
    bare = own.lower().strip(_TRIM_CHARS) in _BARE_REPOST
    if chain:
        return bare
    # No chain: only the explicit "转发微博" / "Repost" placeholders count.
    return bool(own) and bare
