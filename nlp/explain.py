"""Why a text scored what it did: every feature's share of the logit, and per-word totals.

    e = model.explain("阿克米咖啡太难喝了，又贵又慢")      # SentimentModel.explain -> explain()
    e.probability, e.label                                # as score() gives them
    e.terms            # (("阿克米咖啡", -0.1), ("太", -0.4), ("难喝", -2.3), ...) in text order
    e.top(5, "negative")                                  # the features that pushed it down most
    e.to_json()                                           # for the API and the web page
    drivers(model, texts, k=10)                           # terms behind many texts (alert evidence)

The linear model is exact to split: its calibrated logit is
``bias + sum_j a * coef_j * x_j`` over the text's non-zero hashed columns j (``bias`` =
``a * intercept + b``), so each column's part is known. A column is named by re-deriving the
n-grams of the text (jieba words and word pairs, characters 1-3, negation/degree/contrast
marks), hashing each exactly as nlp.hashing does, and sharing a column's part equally among
the distinct n-grams that fell into it (in one text that is almost always one). The emoji
table and, for a mixed post, VADER on its English words add their own named contributions, so
``bias + sum(contributions)`` is the logit of ``probability``.

``terms`` spreads each n-gram's part over the tokens it covers (a word pair half to each word,
a character n-gram by characters), so an analyst reads "难喝 -2.3" instead of five overlapping
features. For English scored by VADER + rules, the parts are VADER's compound (its lexicon
words are named) and each complaint cue.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nlp.english import latin_words, vader_compound, vader_lexicon
from nlp.features import EMOJI_POLARITY, EMOJI_SLOPE, EN, SYMBOL, emoji_total, marks, route, sigmoid
from nlp.hashing import hash_columns, murmur3_32
from nlp.normalize import normalize

if TYPE_CHECKING:
    from nlp.sentiment import SentimentModel

_WHITE_SPACES = re.compile(r"\s\s+")  # as nlp.hashing reads characters
_TOKEN_RE = re.compile(r"\S+")
_EMOJI_RE = re.compile("|".join(re.escape(k) for k in sorted(EMOJI_POLARITY, key=len, reverse=True)))


@dataclass(frozen=True)
class Contribution:
    kind: str  # "word", "char", "mark", "emoji", "english", "vader", "cue"
    feature: str  # the n-gram, mark, emoji or rule, as the model saw it
    weight: float  # logit units: > 0 pushed towards positive, < 0 towards negative


@dataclass(frozen=True)
class Explanation:
    text: str  # the normalised text that was scored
    route: str  # "zh", "en" or "symbol" (nlp.features.route)
    probability: float  # P(positive), as score() reports it
    label: str  # negative / neutral / positive
    model_version: str
    bias: float  # logit of a text without any feature (calibrated intercept; 0 for rules)
    contributions: tuple[Contribution, ...]  # largest |weight| first
    terms: tuple[tuple[str, float], ...]  # per token in text order: its share of the logit

    @property
    def logit(self) -> float:
        return self.bias + sum(c.weight for c in self.contributions)

    def top(self, n: int = 10, direction: str = "both") -> list[Contribution]:
        """The ``n`` largest contributions; ``direction`` "negative"/"positive" keeps one sign."""
        keep = [c for c in self.contributions
                if direction == "both" or (c.weight < 0) == (direction == "negative")]
        return keep[:n]

    def top_terms(self, n: int = 10, direction: str = "both") -> list[tuple[str, float]]:
        """Terms summed over their occurrences, largest |weight| first."""
        total: dict[str, float] = defaultdict(float)
        for term, w in self.terms:
            total[term] += w
        items = [(t, w) for t, w in total.items() if w != 0.0
                 and (direction == "both" or (w < 0) == (direction == "negative"))]
        return sorted(items, key=lambda tw: -abs(tw[1]))[:n]

    def to_json(self, top: int = 20) -> dict[str, Any]:
        return {
            "text": self.text,
            "route": self.route,
            "probability": round(self.probability, 6),
            "label": self.label,
            "model_version": self.model_version,
            "bias": round(self.bias, 4),
            "logit": round(self.logit, 4),
            "contributions": [{"kind": c.kind, "feature": c.feature, "weight": round(c.weight, 4)}
                              for c in self.contributions[:top]],
            "terms": [{"term": t, "weight": round(w, 4)} for t, w in self.terms],
        }


def explain(model: SentimentModel, text: str, tokens: Sequence[str] | None = None, *,
            normalized: bool = False) -> Explanation:
    """The explanation of one text as ``model.score_detail`` scores it (module docstring)."""
    text = text if normalized else normalize(text)
    r = route(text)
    if r == SYMBOL:
        parts = _emoji_parts(text)
        return _finish(model, text, r, 0.0, parts, _terms_of_parts(parts))
    if r == EN and model.english_path != "model":
        return _english(model, text)
    toks = list(tokens) if tokens is not None else model._tokens(text)
    bias = model.cal_a * model.intercept + model.cal_b
    parts, spans = _linear_parts(model, text, toks)
    shares = [0.0] * len(toks)
    for (_kind, _feat, w), covered in zip(parts, spans, strict=True):
        for i, share in covered:
            shares[i] += w * share
    extra = _emoji_parts(text)
    if r != EN and model.english_path != "model":
        z = model.english.mixed_logit(text)
        if z:
            extra.append(("english", "VADER on the English words: " + " ".join(latin_words(text)), z))
    return _finish(model, text, r, bias, parts + extra,
                   list(zip(toks, shares, strict=True)) + _terms_of_parts(extra))


def drivers(model: SentimentModel, texts: Iterable[str], k: int = 10,
            direction: str = "negative") -> list[tuple[str, float, int]]:
    """(term, summed weight, texts it occurs in) over many texts, e.g. the mentions of a negative
    spike: the terms that pushed them ``direction`` the most."""
    total: dict[str, float] = defaultdict(float)
    seen: dict[str, int] = defaultdict(int)
    for t in texts:
        for term, w in explain(model, t).top_terms(50, direction):
            total[term] += w
            seen[term] += 1
    return sorted(((t, round(w, 4), seen[t]) for t, w in total.items()), key=lambda x: -abs(x[1]))[:k]


_Part = tuple[str, str, float]  # (kind, feature, weight)


def _finish(model: SentimentModel, text: str, r: str, bias: float, parts: list[_Part],
            terms: list[tuple[str, float]]) -> Explanation:
    p = sigmoid(bias + sum(w for _k, _f, w in parts))  # what score_detail computes, as a sum
    contributions = tuple(sorted((Contribution(k, f, float(w)) for k, f, w in parts if w != 0.0),
                                 key=lambda c: -abs(c.weight)))
    return Explanation(text=text, route=r, probability=p, label=model.to_sentiment(p).label.value,
                       model_version=model.version, bias=float(bias), contributions=contributions,
                       terms=tuple((t, float(w)) for t, w in terms))


def _emoji_parts(text: str) -> list[_Part]:
    found = [m.group(0) for m in _EMOJI_RE.finditer(text)]
    if not found:
        return []
    raw = sum(EMOJI_POLARITY[e] for e in found)
    scale = emoji_total(text) / raw if raw else 0.0  # the table's sum is clipped to -4..4
    counts = {e: found.count(e) for e in dict.fromkeys(found)}
    return [("emoji", e if n == 1 else f"{e} x{n}", EMOJI_SLOPE * EMOJI_POLARITY[e] * n * scale)
            for e, n in counts.items()]


def _terms_of_parts(parts: list[_Part]) -> list[tuple[str, float]]:
    """Terms of the non-n-gram parts: the emoji itself, the English words VADER read."""
    out = []
    for kind, feature, w in parts:
        term = feature.split(" x", 1)[0] if kind == "emoji" else feature
        if kind == "english":
            term = feature.split(": ", 1)[1]
        out.append((term, w))
    return out


def _english(model: SentimentModel, text: str) -> Explanation:
    rules = model.english
    compound = vader_compound(text)
    cues = rules.cues(text) if rules.cue_weight else 0
    vader_z = rules.logit(compound, 0)
    lex = vader_lexicon()
    words = [(w, lex[w.lower()]) for w in latin_words(text) if w.lower() in lex]
    parts: list[_Part] = []
    if vader_z:
        named = ", ".join(f"{w} {v:+.1f}" for w, v in words) or "no lexicon word"
        parts.append(("vader", f"VADER compound {compound:+.3f} ({named})", vader_z))
    cue_words = rules.cue_words(text)[:cues]
    parts += [("cue", c, -rules.cue_weight) for c in cue_words]
    terms: list[tuple[str, float]] = []
    mass = sum(abs(v) for _w, v in words)
    if vader_z and mass:
        terms += [(w, vader_z * abs(v) / mass) for w, v in words]
    terms += [(c, -rules.cue_weight) for c in cue_words]
    return _finish(model, text, EN, 0.0, parts, terms)


def _linear_parts(model: SentimentModel, text: str,
                  toks: list[str]) -> tuple[list[_Part], list[list[tuple[int, float]]]]:
    """Each distinct n-gram's contribution and the tokens it covers (index, share of it)."""
    p = model.params
    feats = model.featurizer
    X = feats.weigh(feats.counts([text], [toks]), model.idfs)
    value = dict(zip(X.indices.tolist(), X.data.tolist(), strict=True))
    lower = p.lowercase
    words = _TOKEN_RE.findall(" ".join(toks).lower() if lower else " ".join(toks))
    word_tok = _word_token_index(toks, lower)
    doc = _WHITE_SPACES.sub(" ", text.lower() if lower else text)
    char_tok = _char_token_index(doc, toks, lower)
    grams: list[tuple[str, str, int, list[tuple[int, float]]]] = []  # kind, gram as hashed, block, covered
    for n in range(p.word_ngram[0], p.word_ngram[1] + 1):
        for i in range(len(words) - n + 1):
            cov = [(word_tok[j], 1.0 / n) for j in range(i, i + n) if word_tok[j] >= 0]
            grams.append(("word", " ".join(words[i:i + n]), 0, cov))
    for n in range(p.char_ngram[0], p.char_ngram[1] + 1):
        for i in range(len(doc) - n + 1):
            idx = [char_tok[j] for j in range(i, i + n) if char_tok[j] >= 0]
            cov = [(t, idx.count(t) / len(idx)) for t in sorted(set(idx))]
            grams.append(("char", doc[i:i + n], 1, cov))
    shown: dict[str, str] = {}
    if p.mark_n_features:
        lowered = [t.lower() for t in toks]
        for m in marks(toks, p.mark_kinds, p.negation_window):
            word = m.split("_", 1)[1]
            hit = lowered.index(word) if word in lowered else -1
            grams.append(("mark", m.lower() if lower else m, 2, [(hit, 1.0)] if hit >= 0 else []))
            shown[m.lower() if lower else m] = m  # "NEG_好吃", as the mark is written
    offsets = np.concatenate([[0], np.cumsum(p.block_sizes)])
    cols = _columns([g for _k, g, _b, _c in grams], [p.block_sizes[b] for _k, _g, b, _c in grams])
    # distinct (block, gram) -> its column; occurrences -> coverage lists
    distinct: dict[tuple[int, str], tuple[str, int, list[list[tuple[int, float]]]]] = {}
    for (kind, gram, block, cov), col in zip(grams, cols, strict=True):
        key = (block, gram)
        if key not in distinct:
            distinct[key] = (kind, int(offsets[block] + col), [])
        distinct[key][2].append(cov)
    sharing: dict[int, int] = defaultdict(int)
    for _kind, col, _occ in distinct.values():
        sharing[col] += 1
    parts: list[_Part] = []
    spans: list[list[tuple[int, float]]] = []
    for (_block, gram), (kind, col, occurrences) in distinct.items():
        w = model.cal_a * float(model.coef[col]) * value.get(col, 0.0) / sharing[col]
        parts.append((kind, shown.get(gram, gram) if kind == "mark" else gram, w))
        spans.append([(t, s / len(occurrences)) for cov in occurrences for t, s in cov])
    return parts, spans


def _columns(grams: list[str], sizes: list[int]) -> np.ndarray:
    if not grams:
        return np.zeros(0, dtype=np.int64)
    encoded = [g.encode("utf-8") for g in grams]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    hashes = murmur3_32(b"".join(encoded), starts, lengths)
    out = np.empty(len(grams), dtype=np.int64)
    for size in set(sizes):
        sel = np.asarray(sizes) == size
        out[sel] = hash_columns(hashes[sel], size)
    return out


def _word_token_index(toks: list[str], lower: bool) -> list[int]:
    """Token index of each \\S+ word of the joined tokens (a token holding a space splits)."""
    out: list[int] = []
    for i, t in enumerate(toks):
        out += [i] * len(_TOKEN_RE.findall(t.lower() if lower else t))
    return out


def _char_token_index(doc: str, toks: list[str], lower: bool) -> list[int]:
    """Token index of each character of ``doc``; a character no token covers (a space) goes with
    the token before it (or after it, at the start), so every character n-gram lands on a term."""
    out = [-1] * len(doc)
    pos = 0
    for i, t in enumerate(toks):
        t = t.lower() if lower else t
        at = doc.find(t, pos)
        if at < 0:
            continue
        for j in range(at, at + len(t)):
            out[j] = i
        pos = at + len(t)
    last = next((i for i in out if i >= 0), -1)
    for j, i in enumerate(out):
        if i < 0:
            out[j] = last
        else:
            last = i
    return out
