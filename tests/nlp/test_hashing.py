"""NgramHasher must produce exactly sklearn's HashingVectorizer columns: the shipped model's
weights were trained on them (FeatureParams.hash_algorithm)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from nlp.hashing import CHUNK, NgramHasher, hash_columns, murmur3_32
from nlp.normalize import normalize
from nlp.segment import Segmenter

TEXTS = [
    "阿克米咖啡的外卖送到已经凉了，客服也打不通，太失望了[怒]",
    "華為手機拍照很棒 👍👍 推薦！",
    "Loving the new ACME Coffee cold brew, best in town!",
    "ΣΊΣΥΦΟΣ and İSTANBUL: case rules that change length or depend on context",
    "double  spaces\tand\nnewlines   kept apart",
    "😡😡😡 \U0001f92c 𠀋𠀋 (four-byte characters)",
    "a",
    "ab",
    "",
    " ",
    "supercalifragilisticexpialidocious-tokens-longer-than-twelve-bytes 阿克米咖啡阿克米咖啡",
]


def _sklearn(analyzer: str, ngram: tuple[int, int], lowercase: bool = True) -> HashingVectorizer:
    extra = {"token_pattern": r"\S+"} if analyzer == "word" else {}
    return HashingVectorizer(
        n_features=2**18,
        analyzer=analyzer,
        ngram_range=ngram,
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
        lowercase=lowercase,
        **extra,
    )


def assert_same_csr(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    assert a.shape == b.shape
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data) and a.data.dtype == b.data.dtype == np.float32


def test_murmur3_matches_sklearn_for_every_length() -> None:
    rnd = random.Random(5)
    keys = [bytes(rnd.getrandbits(8) for _ in range(n % 41)) for n in range(2000)]
    buf = b"".join(keys)
    starts = np.cumsum([0] + [len(k) for k in keys[:-1]])
    got = murmur3_32(buf, starts, np.array([len(k) for k in keys]))
    assert got.tolist() == [murmurhash3_32(k, 0) for k in keys]


def test_most_negative_hash_gets_sklearns_column() -> None:
    hashes = np.array([-(2**31), -5, 5, 2**31 - 1], dtype=np.int32)
    n = 1000
    assert hash_columns(hashes, n).tolist() == [(2**31 - 1 - (n - 1)) % n, 5, 5, (2**31 - 1) % n]


@pytest.mark.parametrize("ngram", [(1, 3), (2, 4), (1, 1)])
@pytest.mark.parametrize("lowercase", [True, False])
def test_char_counts_equal_hashing_vectorizer(ngram: tuple[int, int], lowercase: bool) -> None:
    texts = TEXTS + [normalize(t) for t in TEXTS]
    got = NgramHasher(2**18, lowercase=lowercase).char_counts(texts, ngram)
    assert_same_csr(got, _sklearn("char", ngram, lowercase).transform(texts))


@pytest.mark.parametrize("ngram", [(1, 2), (1, 1), (2, 3)])
def test_word_counts_equal_hashing_vectorizer(segmenter: Segmenter, ngram: tuple[int, int]) -> None:
    token_lists = [segmenter.tokens(normalize(t)) for t in TEXTS] + [["A", " ", "", "Σ", "b c"], [], ["  "]]
    joined = [" ".join(t for t in toks if t and not t.isspace()) for toks in token_lists]
    got = NgramHasher(2**18).word_counts(token_lists, ngram)
    assert_same_csr(got, _sklearn("word", ngram).transform(joined))


def test_batches_larger_than_a_chunk(segmenter: Segmenter) -> None:
    rnd = random.Random(9)
    texts = [rnd.choice(TEXTS) + f" 第{i}条" for i in range(CHUNK * 2 + 7)]
    hasher = NgramHasher(2**18)
    assert_same_csr(hasher.char_counts(texts, (1, 3)), _sklearn("char", (1, 3)).transform(texts))
    token_lists = [t.split() for t in texts]
    assert_same_csr(
        hasher.word_counts(token_lists, (1, 2)),
        _sklearn("word", (1, 2)).transform([" ".join(t) for t in token_lists]),
    )
    assert hasher.char_counts([], (1, 3)).shape == (0, 2**18)
