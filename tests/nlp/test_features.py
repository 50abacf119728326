from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from nlp.features import FeatureParams, Featurizer, emoji_total
from nlp.normalize import normalize
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel

TEXTS = [
    "阿克米咖啡的外卖送到已经凉了，客服也打不通，太失望了[怒]",
    "華為手機拍照很棒 👍👍 推薦！",
    "Loving the new ACME Coffee cold brew, best in town!",
    "好好好好好好好好好好好好好好好好好好好好 重复的字让计数大于一",
    "",
    "👍",
]


def weigh_as_matrices(
    params: FeatureParams, counts: tuple[sp.csr_matrix, sp.csr_matrix], idf_word: np.ndarray, idf_char: np.ndarray
) -> sp.csr_matrix:
    """The matrix-product formulation the shipped model was evaluated with (the reference)."""
    blocks = []
    for X, idf in ((counts[0], idf_word), (counts[1], idf_char)):
        X = X.astype(np.float32, copy=True)
        if params.sublinear_tf:
            np.log(X.data, out=X.data)
            X.data += 1.0
        X = sp.csr_matrix(X @ sp.diags(idf.astype(np.float32)))
        if params.norm == "l2":
            norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            X = sp.csr_matrix(sp.diags(1.0 / norms) @ X)
        blocks.append(X)
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def test_weigh_is_bit_for_bit_the_matrix_formulation(shipped_model: SentimentModel, segmenter: Segmenter) -> None:
    texts = [normalize(t) for t in TEXTS * 3]
    tokens = [segmenter.tokens(t) for t in texts]
    feats = shipped_model.featurizer
    counts = feats.counts(texts, tokens)
    got = feats.weigh(counts, shipped_model.idf_word, shipped_model.idf_char)
    want = weigh_as_matrices(shipped_model.params, counts, shipped_model.idf_word, shipped_model.idf_char)
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    assert np.array_equal(got @ shipped_model.coef, want @ shipped_model.coef)


@pytest.mark.parametrize("norm", ["l2", "none"])
def test_weigh_with_zero_idf_and_without_sublinear_tf(norm: str, segmenter: Segmenter) -> None:
    params = FeatureParams(word_n_features=64, char_n_features=128, sublinear_tf=False, norm=norm)
    feats = Featurizer(params)
    texts = [normalize(t) for t in TEXTS]
    counts = feats.counts(texts, [segmenter.tokens(t) for t in texts])
    rng = np.random.default_rng(3)
    idf_word = rng.uniform(1, 5, 64).astype(np.float32)
    idf_char = rng.uniform(1, 5, 128).astype(np.float32)
    idf_char[::3] = 0.0  # zero weights vanish from the matrix, as a sparse product drops them
    got = feats.weigh(counts, idf_word, idf_char)
    want = weigh_as_matrices(params, counts, idf_word, idf_char)
    assert got.nnz == want.nnz and np.array_equal(got.toarray(), want.toarray())
    assert got.has_sorted_indices  # (without l2 the matrix form leaves each row's columns reversed)


def test_emoji_total() -> None:
    assert emoji_total("阿克米咖啡太难喝了") == 0.0
    assert emoji_total("小米 👍👍") == 2.0
    assert emoji_total("[怒][怒][怒] 😡") == -4.0  # clipped
    assert emoji_total("还行 :) 但是 :(") == 0.0
