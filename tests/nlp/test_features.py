from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from nlp.features import (
    FeatureParams,
    Featurizer,
    contrast_marks,
    degree_marks,
    emoji_total,
    marks,
    negation_marks,
)
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
    params: FeatureParams, counts: tuple[sp.csr_matrix, ...], idfs: list[np.ndarray]
) -> sp.csr_matrix:
    """The matrix-product formulation the first model was evaluated with (the reference)."""
    blocks = []
    for X, idf in zip(counts, idfs, strict=True):
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
    assert len(counts) == 3  # words, characters, negation marks
    got = feats.weigh(counts, shipped_model.idfs)
    want = weigh_as_matrices(shipped_model.params, counts, shipped_model.idfs)
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    assert np.array_equal(got @ shipped_model.coef, want @ shipped_model.coef)


@pytest.mark.parametrize("norm", ["l2", "none"])
def test_weigh_with_zero_idf_and_without_sublinear_tf(norm: str, segmenter: Segmenter) -> None:
    params = FeatureParams(word_n_features=64, char_n_features=128, mark_n_features=0, sublinear_tf=False, norm=norm)
    feats = Featurizer(params)
    texts = [normalize(t) for t in TEXTS]
    counts = feats.counts(texts, [segmenter.tokens(t) for t in texts])
    rng = np.random.default_rng(3)
    idf_word = rng.uniform(1, 5, 64).astype(np.float32)
    idf_char = rng.uniform(1, 5, 128).astype(np.float32)
    idf_char[::3] = 0.0  # zero weights vanish from the matrix, as a sparse product drops them
    got = feats.weigh(counts, [idf_word, idf_char])
    want = weigh_as_matrices(params, counts, [idf_word, idf_char])
    assert got.nnz == want.nnz and np.array_equal(got.toarray(), want.toarray())
    assert got.has_sorted_indices  # (without l2 the matrix form leaves each row's columns reversed)


def test_emoji_total() -> None:
    assert emoji_total("阿克米咖啡太难喝了") == 0.0
    assert emoji_total("小米 👍👍") == 2.0
    assert emoji_total("[怒][怒][怒] 😡") == -4.0  # clipped
    assert emoji_total("还行 :) 但是 :(") == 0.0


def test_negation_marks_cover_the_scope_and_stop_at_punctuation(segmenter: Segmenter) -> None:
    toks = segmenter.tokens("这家店的咖啡没有一点味道，服务很好")
    assert negation_marks(toks, 3) == ["NEG_一点", "NEG_味道"]  # the comma closes the scope
    assert negation_marks(["不", "好吃", "也", "不", "便宜", "还", "贵"], 1) == ["NEG_好吃", "NEG_便宜"]
    assert negation_marks(segmenter.tokens("I don't like it. Never again!"), 3) == ["NEG_like", "NEG_it", "NEG_again"]
    assert negation_marks(segmenter.tokens("很好吃"), 3) == []


def test_mark_block_counts_marked_words_only(segmenter: Segmenter) -> None:
    params = FeatureParams(word_n_features=64, char_n_features=64, mark_n_features=32)
    texts = ["一点都不好吃", "很好吃"]
    counts = Featurizer(params).counts(texts, [segmenter.tokens(t) for t in texts])
    assert [c.shape for c in counts] == [(2, 64), (2, 64), (2, 32)]
    assert counts[2][0].sum() == 1.0 and counts[2][1].sum() == 0.0  # NEG_好吃 once; nothing negated


def test_format1_params_have_no_mark_block() -> None:
    d = FeatureParams().to_json()
    del d["mark_n_features"], d["negation_window"]
    p = FeatureParams.from_json(d)
    assert p.mark_n_features == 0 and p.block_sizes == (p.word_n_features, p.char_n_features)


def test_degree_and_contrast_marks(segmenter: Segmenter) -> None:
    toks = segmenter.tokens("速度非常快，但是菜太咸了。下次再说")
    assert degree_marks(toks) == ["DEG_快", "DEG_咸"]
    assert contrast_marks(toks) == ["BUT_菜", "BUT_太", "BUT_咸", "BUT_了"]  # up to the full stop
    assert contrast_marks(segmenter.tokens("Fast delivery but the food was cold")) == [
        "BUT_the", "BUT_food", "BUT_was", "BUT_cold"]
    assert contrast_marks(toks[:3]) == [] and degree_marks(["很", "!"]) == []
    assert marks(toks, ("negation", "degree", "contrast"), 3) == degree_marks(toks) + contrast_marks(toks)
    assert marks(segmenter.tokens("不好吃"), ("degree",), 3) == []


def test_mark_kinds_are_stored_and_checked() -> None:
    p = FeatureParams(mark_kinds=("negation", "degree"))
    d = p.to_json()
    assert d["mark_kinds"] == ["negation", "degree"]
    assert FeatureParams.from_json(d) == p
    del d["mark_kinds"]  # format-2 models: negation only
    assert FeatureParams.from_json(d).mark_kinds == ("negation",)
    with pytest.raises(ValueError, match="unknown mark_kinds"):
        FeatureParams.from_json({**p.to_json(), "mark_kinds": ["sarcasm"]})


def test_degree_marks_fill_the_mark_block(segmenter: Segmenter) -> None:
    params = FeatureParams(word_n_features=64, char_n_features=64, mark_n_features=32,
                           mark_kinds=("negation", "degree"))
    texts = ["一点都不好吃", "很好吃"]
    counts = Featurizer(params).counts(texts, [segmenter.tokens(t) for t in texts])
    assert counts[2][0].sum() == 1.0 and counts[2][1].sum() == 1.0  # NEG_好吃; DEG_好吃
