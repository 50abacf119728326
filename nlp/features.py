"""Sentiment features shared by training and scoring, so both compute exactly the same thing.

    params = FeatureParams()                        # stored in model.json as params.to_json()
    feats = Featurizer(params)
    counts = feats.counts(texts, token_lists)       # hashed raw counts (words 1-2, chars 1-3)
    X = feats.weigh(counts, idf_word, idf_char)     # sublinear tf * idf, L2 per block

Hashing (sklearn HashingVectorizer with fixed, JSON-stored parameters) means no vocabulary is
shipped and nothing is unpickled: the vectorizer is rebuilt from ``FeatureParams``.

Also here: language routing and the hand-written emoji/emoticon polarity table used for texts
that are only symbols ("👍", "😡😡", ":(").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z]")

ZH, EN, SYMBOL = "zh", "en", "symbol"


def route(normalized_text: str) -> str:
    """Which scorer reads a text: any Chinese character -> "zh" (Chinese posts that name an
    English brand included); Latin letters and no Chinese -> "en"; neither -> "symbol"."""
    if _CJK_RE.search(normalized_text):
        return ZH
    if _LATIN_RE.search(normalized_text):
        return EN
    return SYMBOL


# Polarity of emoji, emoticons and Weibo bracket emoticons, written for this project:
# +1 clearly pleased, -1 clearly displeased; +-2 for the unambiguous extremes.
EMOJI_POLARITY: dict[str, float] = {
    "👍": 1.0,
    "👏": 1.0,
    "❤": 1.0,
    "😍": 2.0,
    "🥰": 2.0,
    "😊": 1.0,
    "😀": 1.0,
    "😄": 1.0,
    "😁": 1.0,
    "🎉": 1.0,
    "💯": 1.0,
    "🙏": 0.5,
    "😘": 1.0,
    "🤩": 2.0,
    "✌": 0.5,
    "👌": 1.0,
    "😡": -2.0,
    "😠": -1.0,
    "🤬": -2.0,
    "👎": -1.0,
    "💔": -1.0,
    "😭": -1.0,
    "😢": -1.0,
    "😤": -1.0,
    "🤮": -2.0,
    "💩": -1.0,
    "😞": -1.0,
    "😒": -1.0,
    "🙄": -1.0,
    "😱": -1.0,
    ":)": 1.0,
    ":-)": 1.0,
    ":D": 1.0,
    ":(": -1.0,
    ":-(": -1.0,
    ":'(": -1.0,
    "[赞]": 1.0,
    "[哈哈]": 1.0,
    "[心]": 1.0,
    "[good]": 1.0,
    "[鼓掌]": 1.0,
    "[爱你]": 1.0,
    "[怒]": -2.0,
    "[抓狂]": -1.0,
    "[泪]": -1.0,
    "[伤心]": -1.0,
    "[鄙视]": -1.0,
    "[衰]": -1.0,
}
_EMOJI_RE = re.compile("|".join(re.escape(k) for k in sorted(EMOJI_POLARITY, key=len, reverse=True)))
EMOJI_SLOPE = 1.5  # logit per polarity point: one 👍 -> p=0.82, two 😡 -> p=0.05


def emoji_total(text: str) -> float:
    """Summed table polarity of the emoji/emoticons in ``text``, clipped to -4..4."""
    total = sum(EMOJI_POLARITY[m.group(0)] for m in _EMOJI_RE.finditer(text))
    return max(-4.0, min(4.0, total))


def emoji_probability(text: str) -> float:
    """P(positive) from the emoji table alone; 0.5 when the text holds none of its entries."""
    return sigmoid(EMOJI_SLOPE * emoji_total(text))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class FeatureParams:
    """Everything needed to rebuild the hashing vectorizers (stored in model.json)."""

    word_n_features: int = 2**18
    word_ngram: tuple[int, int] = (1, 2)
    char_n_features: int = 2**18
    char_ngram: tuple[int, int] = (1, 3)
    lowercase: bool = True
    sublinear_tf: bool = True
    norm: str = "l2"  # per block, after idf
    hash_algorithm: str = "sklearn-murmurhash3-32-nonneg"  # HashingVectorizer, alternate_sign=False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["word_ngram"] = list(self.word_ngram)
        d["char_ngram"] = list(self.char_ngram)
        d["word_tokens"] = "jieba precise mode (nlp.segment.Segmenter), joined by spaces, token_pattern \\S+"
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FeatureParams:
        p = cls(
            word_n_features=int(d["word_n_features"]),
            word_ngram=(int(d["word_ngram"][0]), int(d["word_ngram"][1])),
            char_n_features=int(d["char_n_features"]),
            char_ngram=(int(d["char_ngram"][0]), int(d["char_ngram"][1])),
            lowercase=bool(d["lowercase"]),
            sublinear_tf=bool(d["sublinear_tf"]),
            norm=str(d["norm"]),
            hash_algorithm=str(d["hash_algorithm"]),
        )
        if p.hash_algorithm != cls.hash_algorithm:
            raise ValueError(f"unknown hash_algorithm {p.hash_algorithm!r}")
        if p.norm not in ("l2", "none"):
            raise ValueError(f"unknown norm {p.norm!r}")
        return p

    @property
    def n_features(self) -> int:
        return self.word_n_features + self.char_n_features


class Featurizer:
    """Hashed word and character n-gram features (see the module docstring)."""

    def __init__(self, params: FeatureParams) -> None:
        self.params = params
        common = {"alternate_sign": False, "norm": None, "dtype": np.float32, "lowercase": params.lowercase}
        self._word = HashingVectorizer(
            n_features=params.word_n_features,
            analyzer="word",
            token_pattern=r"\S+",
            ngram_range=params.word_ngram,
            **common,
        )
        self._char = HashingVectorizer(
            n_features=params.char_n_features, analyzer="char", ngram_range=params.char_ngram, **common
        )

    def counts(
        self, texts: Sequence[str], tokens: Sequence[Sequence[str]]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Raw hashed counts: (words, chars), one row per text."""
        if len(texts) != len(tokens):
            raise ValueError(f"{len(texts)} texts but {len(tokens)} token lists")
        joined = [" ".join(t for t in toks if t and not t.isspace()) for toks in tokens]
        return self._word.transform(joined).tocsr(), self._char.transform(list(texts)).tocsr()

    def weigh(
        self, counts: tuple[sp.csr_matrix, sp.csr_matrix], idf_word: np.ndarray, idf_char: np.ndarray
    ) -> sp.csr_matrix:
        """Sublinear tf, times idf, L2-normalised per block, blocks side by side."""
        blocks = []
        for X, idf in ((counts[0], idf_word), (counts[1], idf_char)):
            X = X.astype(np.float32, copy=True)
            if self.params.sublinear_tf:
                np.log(X.data, out=X.data)
                X.data += 1.0
            X = X @ sp.diags(idf.astype(np.float32))
            X = sp.csr_matrix(X)
            if self.params.norm == "l2":
                norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
                norms[norms == 0] = 1.0
                X = sp.csr_matrix(sp.diags(1.0 / norms) @ X)
            blocks.append(X)
        return sp.hstack(blocks, format="csr", dtype=np.float32)


def idf_from_counts(X: sp.csr_matrix) -> np.ndarray:
    """Smoothed idf as sklearn's TfidfTransformer computes it: ln((1+n)/(1+df)) + 1."""
    n = X.shape[0]
    df = np.bincount(X.indices, minlength=X.shape[1])
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
