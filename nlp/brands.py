"""BrandMatcher: which configured brands a normalised text mentions, with the evidence.

    matcher = BrandMatcher([Brand(id="acme", name="阿克米咖啡", aliases=("阿克米", "ACME Coffee"),
                                  exclusions=("阿克米德",))])
    text = normalize("阿克米的拿铁太难喝了")
    matcher.match(text, segmenter.tokens(text))
    # [BrandMatch(brand='acme', alias='阿克米', start=0)]

Rules (see also ``config/brands.example.yaml``):

* Aliases are normalised exactly like the text (NFKC, Traditional -> Simplified), so 華為 in
  the config or in a post matches 华为 and vice versa.
* An alias with Chinese characters matches where it covers a whole jieba token or a run of
  consecutive tokens: it must start where a token starts and end where a token ends. It does
  not match as a strict piece of a larger token: 小米粥 (millet porridge) is one dictionary
  token, so 小米 does not match there, while 小米手机 is cut 小米/手机 and does. Brand aliases are
  added to the Segmenter, so jieba keeps them whole. A word jieba does not know as one token
  (小米椒, chili) needs an exclusion.
* An alias written only in Latin letters/digits matches case-insensitively where it is not
  glued to other Latin letters or digits: "ACME's", "#acme", "用ACME咖啡" match, "acmeville"
  does not. (Not Python's ``\\b``: a CJK character counts as a word character there.)
* Exclusions mask their spans: an alias occurrence that lies inside an exclusion phrase
  (阿克米德 for 阿克米) is not a mention. ``match_detail`` reports such occurrences, so the
  caller can tell "excluded" from "no brand at all".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.models import Brand, BrandMatch
from nlp.normalize import normalize

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _latin_pattern(alias: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in alias.split()]
    return re.compile(r"(?<![A-Za-z0-9])" + r"\s+".join(words) + r"(?![A-Za-z0-9])", re.IGNORECASE)


def _lower_same_length(text: str) -> str:
    """Lower-case without changing offsets (a few characters, e.g. U+0130, grow under lower())."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


@dataclass(frozen=True)
class _Alias:
    brand: str
    written: str  # as in the config, reported in BrandMatch.alias
    key: str  # normalised (and lower-cased) form searched for
    normalized: str  # normalised, case kept (jieba's dictionary is case-sensitive)
    latin: re.Pattern[str] | None  # set for Latin-only aliases


@dataclass(frozen=True)
class MatchDetail:
    """Matches kept, and alias occurrences masked by an exclusion phrase."""

    matches: list[BrandMatch]
    excluded: list[BrandMatch]


class BrandMatcher:
    """Find configured brands in normalised text (see the module docstring for the rules)."""

    def __init__(self, brands: Sequence[Brand]) -> None:
        self.brands = tuple(brands)
        ids = [b.id for b in self.brands]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate brand ids in {ids!r}")
        self._aliases: list[_Alias] = []
        self._exclusions: dict[str, list[str]] = {}
        for brand in self.brands:
            for written in brand.all_aliases():
                key = _lower_same_length(normalize(written))
                if not key:
                    continue
                latin = None if _CJK_RE.search(key) else _latin_pattern(key)
                self._aliases.append(_Alias(brand.id, written, key, normalize(written), latin))
            excl = [_lower_same_length(normalize(e)) for e in brand.exclusions]
            self._exclusions[brand.id] = [e for e in excl if e]
        # Longer aliases first, so the reported alias of overlapping matches is the most specific.
        self._aliases.sort(key=lambda a: -len(a.key))

    def segmenter_words(self) -> list[str]:
        """Normalised Chinese aliases to add to the Segmenter so jieba keeps them whole."""
        words: dict[str, None] = {}
        for a in self._aliases:
            if a.latin is None:
                words.setdefault(a.normalized, None)
                words.setdefault(a.key, None)
        return list(words)

    def match(self, normalized_text: str, tokens: Sequence[str]) -> list[BrandMatch]:
        """Brands mentioned in ``normalized_text`` (one BrandMatch per brand, first occurrence)."""
        return self.match_detail(normalized_text, tokens).matches

    def match_detail(self, normalized_text: str, tokens: Sequence[str]) -> MatchDetail:
        text = _lower_same_length(normalized_text)
        # Token bounds and exclusion spans are computed only once an alias occurs: most texts
        # contain few of the configured aliases.
        bounds: tuple[set[int], set[int]] | None = None
        masks: dict[str, list[tuple[int, int]]] = {}
        best: dict[str, BrandMatch] = {}
        excluded: dict[str, BrandMatch] = {}
        for alias in self._aliases:
            if alias.latin is None:
                if alias.key not in text:
                    continue
                if bounds is None:
                    bounds = _token_bounds(text, tokens)
                found = _occurrences(text, alias, *bounds)
            else:
                found = _occurrences(text, alias, _NO_BOUNDS, _NO_BOUNDS)
                if not found:
                    continue
            brand_masks = masks.get(alias.brand)
            if brand_masks is None:
                brand_masks = masks[alias.brand] = _spans(text, self._exclusions.get(alias.brand, ()))
            for start, end, on_bounds in found:
                if any(ms <= start and end <= me for ms, me in brand_masks):
                    excluded.setdefault(alias.brand, BrandMatch(alias.brand, alias.written, start))
                    continue
                if not on_bounds:
                    continue
                prev = best.get(alias.brand)
                if prev is None or start < prev.start:
                    best[alias.brand] = BrandMatch(alias.brand, alias.written, start)
        matches = sorted(best.values(), key=lambda m: (m.start, m.brand))
        masked = sorted((m for b, m in excluded.items() if b not in best), key=lambda m: (m.start, m.brand))
        return MatchDetail(matches, masked)


_NO_BOUNDS: set[int] = set()  # Latin aliases do not use token bounds


def _spans(text: str, phrases: Sequence[str]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for phrase in phrases:
        i = text.find(phrase)
        while i >= 0:
            out.append((i, i + len(phrase)))
            i = text.find(phrase, i + 1)
    return out


def _occurrences(text: str, alias: _Alias, starts: set[int], ends: set[int]) -> list[tuple[int, int, bool]]:
    """(start, end, acceptable) for each occurrence of the alias in the lower-cased text."""
    if alias.latin is not None:
        return [(m.start(), m.end(), True) for m in alias.latin.finditer(text)]
    out = []
    i = text.find(alias.key)
    while i >= 0:
        j = i + len(alias.key)
        out.append((i, j, i in starts and j in ends))
        i = text.find(alias.key, i + 1)
    return out


def _token_bounds(text: str, tokens: Sequence[str]) -> tuple[set[int], set[int]]:
    """Start and end offsets of the tokens in ``text`` (tokens are in order; spaces skipped)."""
    starts: set[int] = set()
    ends: set[int] = set()
    pos = 0
    for tok in tokens:
        t = tok.lower()
        if len(t) != len(tok):
            t = _lower_same_length(tok)
        i = text.find(t, pos)
        if i < 0:
            continue  # a token not from this text; ignore rather than misalign the rest
        starts.add(i)
        ends.add(i + len(t))
        pos = i + len(t)
    return starts, ends
