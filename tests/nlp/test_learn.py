"""The learning step on small real-shaped data: folds, NB ratios folded in, shared weights, Platt."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.features import FeatureParams, Featurizer
from nlp.learn import Recipe, fit_linear, fit_model, fold_of, platt, weigh_rows
from nlp.segment import Segmenter

POS = ["味道很好，送得也快", "服务热情，环境干净", "非常好吃，还会再来", "房间很大很舒服", "性价比高，推荐",
       "早餐丰富，位置方便", "包装精美，分量足", "员工友好，入住顺利"]
NEG = ["太难吃了，再也不点", "送餐太慢，饭都凉了", "房间很脏，隔音差", "服务态度恶劣", "价格贵，分量少",
       "等了两个小时还没到", "卫生间有异味，不推荐", "客服不理人，差评"]
TEXTS = POS + NEG
Y = np.asarray([1] * len(POS) + [0] * len(NEG))
SMALL = FeatureParams(word_n_features=2**10, char_n_features=2**10, mark_n_features=2**6)


@pytest.fixture(scope="module")
def counts(segmenter: Segmenter) -> tuple:
    feats = Featurizer(SMALL)
    return feats, feats.counts(TEXTS, [segmenter.tokens(t) for t in TEXTS])


def test_folds_are_deterministic_and_cover_every_fold() -> None:
    a = fold_of(TEXTS, 4)
    assert (a == fold_of(list(TEXTS), 4)).all() and set(a.tolist()) <= {0, 1, 2, 3}
    assert not (a == fold_of(TEXTS, 4, salt="other")).all()
    assert set(fold_of([str(i) for i in range(200)], 5).tolist()) == {0, 1, 2, 3, 4}


def test_nb_ratio_is_folded_into_the_coefficients(counts: tuple) -> None:
    feats, c = counts
    X, _ = weigh_rows(feats, c, None)
    w = np.ones(len(Y))
    doms = np.asarray([""] * len(Y))
    plain = fit_linear(X, Y, w, doms, Recipe(params=SMALL, domain_scale=0.0))
    nb = fit_linear(X, Y, w, doms, Recipe(params=SMALL, domain_scale=0.0, nb_ratio=True))
    assert plain[0].shape == nb[0].shape == (SMALL.n_features,)
    assert not np.allclose(plain[0], nb[0])
    # scored on the unscaled features, the folded coefficients separate the training rows
    d = X @ nb[0] + nb[1]
    assert ((d > 0) == (Y == 1)).all()


def test_shared_weights_only_ship_the_shared_block(counts: tuple) -> None:
    feats, c = counts
    X, _ = weigh_rows(feats, c, None)
    w = np.ones(len(Y))
    doms = np.asarray(["hotel" if i % 2 else "waimai" for i in range(len(Y))])
    coef, b = fit_linear(X, Y, w, doms, Recipe(params=SMALL, domain_scale=0.3))
    assert coef.shape == (SMALL.n_features,) and isinstance(b, float)
    # rows without a corpus (corrections) get no copy: same result as a plain fit when all are ""
    none = np.asarray([""] * len(Y))
    assert np.allclose(fit_linear(X, Y, w, none, Recipe(params=SMALL, domain_scale=0.3))[0],
                       fit_linear(X, Y, w, none, Recipe(params=SMALL, domain_scale=0.0))[0])


def test_sample_weights_move_the_fit(counts: tuple) -> None:
    feats, c = counts
    X, _ = weigh_rows(feats, c, None)
    doms = np.asarray([""] * len(Y))
    r = Recipe(params=SMALL, domain_scale=0.0, class_weight=None)
    even = fit_linear(X, Y, np.ones(len(Y)), doms, r)
    w = np.ones(len(Y))
    w[Y == 1] = 5.0
    heavy = fit_linear(X, Y, w, doms, r)
    assert heavy[1] > even[1]  # positives weigh more: the intercept leans positive


def test_platt_balanced_and_as_sampled() -> None:
    rng = np.random.default_rng(0)
    y = np.asarray([1] * 100 + [0] * 300)
    d = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.2, len(y))
    a, b = platt(d, y, np.ones(len(y)), balanced=True)
    a2, b2 = platt(d, y, np.ones(len(y)), balanced=False)
    assert a > 0 and a2 > 0
    assert b2 < b  # as sampled, the 75% negatives pull P = 0.5 upwards
    assert platt(d, np.zeros(len(y), dtype=int), np.ones(len(y)), balanced=True) == (1.0, 0.0)


def test_fit_model_cross_fits_calibration_then_fits_all_rows(counts: tuple) -> None:
    _feats, c = counts
    said: list[str] = []
    r = Recipe(params=SMALL, domain_scale=0.0, calibration_folds=2)
    fitted = fit_model(TEXTS, c, Y, np.ones(len(Y)), np.asarray([""] * len(Y)), r, said.append)
    assert fitted.oof_decisions is not None and fitted.oof_decisions.shape == (len(Y),)
    assert len(fitted.idfs) == 3 and fitted.coef.dtype == np.float32
    assert [m.split(":")[0] for m in said[:2]] == ["calibration fold 1/2", "calibration fold 2/2"]
    assert said[-1].startswith(f"final fit on {len(Y)} rows")
    # 8 rows per fold cannot predict the other 8: the fitted slope is negative, and a calibration
    # that would turn every prediction around is refused
    assert "slope is not positive" in said[-2] and fitted.platt == (1.0, 0.0)
    none = fit_model(TEXTS, c, Y, np.ones(len(Y)), np.asarray([""] * len(Y)),
                     Recipe(params=SMALL, calibration_folds=0))
    assert none.platt == (1.0, 0.0) and none.oof_decisions is None
