"""The learning step of ``nlp.train``: the recipe, the fit and the calibration (training only).

    recipe = Recipe()                                     # stored in model.json "classifier"
    fitted = fit_model(counts, labels, weights, domains, recipe, progress=print)
    fitted.coef, fitted.intercept, fitted.idfs, fitted.platt    # what the artifact stores

``counts`` are the raw hashed count blocks of ``nlp.features.Featurizer.counts``; everything
here is a function of them, the labels (1 positive, 0 negative), per-row weights and the corpus
each row came from, so ``bench/sentiment_ablation.py`` runs exactly this code for every
variant it reports.

Why each step (the measurements are in the model card's ablation table):

- Logistic regression (liblinear) on sublinear tf * idf, L2 per block: the n-gram family every
  idea below was compared against.
- ``class_weight``: "balanced" weighs each class by the inverse of its share, so the Weibo
  majority of negatives does not become the prior of every unseen domain.
- ``domain_scale`` (shared weights, Daume 2007): during the fit every row also carries a copy of
  its features, scaled, in a block of its own corpus, plus a per-corpus intercept. What only one
  corpus believes ("今天" is negative in Weibo emotions) is cheaper to put in that block, so the
  shipped shared weights keep what holds across corpora. Rows without a corpus (analyst
  corrections) have no copy: their signal can only go into the shared weights.
- ``nb_ratio`` (NB-SVM, Wang & Manning 2012): scale feature j by the log-count ratio
  ``log((p_j/|p|) / (q_j/|q|))`` of the positive and negative rows before the fit; folded into
  the coefficients afterwards, so scoring is unchanged.
- Calibration: Platt scaling ``P = sigmoid(a * d + b)`` fitted on out-of-fold decision values
  (``calibration_folds``-fold cross-fitting on the training rows, folds chosen by a hash of the
  text), then the model itself is fitted on all rows: nothing is held out of the fit.
  ``calibration_balanced`` weighs the classes equally, so P = 0.5 means "no evidence either
  way" rather than the training corpora's class mix.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from nlp.features import FeatureParams, Featurizer, idf_from_counts

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


@dataclass(frozen=True)
class Recipe:
    """How a model is fitted; stored in model.json (``classifier``) beside the feature params."""

    params: FeatureParams = field(default_factory=FeatureParams)
    c: float = 4.0  # inverse regularisation strength of the logistic regression
    class_weight: str | None = "balanced"
    domain_scale: float = 0.3  # weight of the per-corpus feature copies; 0 = one plain fit
    nb_ratio: bool = False  # NB-SVM log-count-ratio scaling (folded into coef)
    calibration_folds: int = 5  # Platt on out-of-fold decisions; 0 = no calibration (a=1, b=0)
    calibration_balanced: bool = True

    def classifier_json(self) -> dict[str, Any]:
        d = asdict(self)
        del d["params"]
        return {"kind": "logistic_regression", "solver": "liblinear", **d}


@dataclass
class Fitted:
    coef: np.ndarray  # float32, one weight per hashed column (all blocks)
    intercept: float
    idfs: list[np.ndarray]  # one float32 vector per block
    platt: tuple[float, float]  # (a, b) of sigmoid(a * d + b)
    seconds: float = 0.0
    oof_decisions: np.ndarray | None = None  # out-of-fold decision per training row (calibration)


def fold_of(texts: Sequence[str], k: int, salt: str = "fold") -> np.ndarray:
    """Deterministic fold number (0..k-1) per text, from a hash of the text: no random state."""
    return np.fromiter(
        (int.from_bytes(hashlib.sha1((salt + t).encode("utf-8")).digest()[:4], "big") % k for t in texts),
        dtype=np.int64,
        count=len(texts),
    )


def weigh_rows(
    feats: Featurizer, counts: Sequence[sp.csr_matrix], rows: np.ndarray | None
) -> tuple[sp.csr_matrix, list[np.ndarray]]:
    """idf from ``rows`` of the counts (None: all), and the weighted matrix of all rows."""
    idfs = [idf_from_counts(block if rows is None else block[rows]) for block in counts]
    return feats.weigh(counts, idfs), idfs


def fit_linear(
    X: sp.csr_matrix,
    y: np.ndarray,
    weights: np.ndarray,
    domains: np.ndarray,
    recipe: Recipe,
) -> tuple[np.ndarray, float]:
    """The logistic regression of the recipe on weighted features; returns (coef, intercept) of
    the shared model (NB ratios folded in, per-corpus copies dropped)."""
    ratio = _nb_ratio(X, y, weights) if recipe.nb_ratio else None
    Xs = X @ sp.diags(ratio) if ratio is not None else X
    parts = [Xs]
    names = sorted({d for d in domains.tolist() if d}) if recipe.domain_scale > 0 else []
    for name in names:
        member = (domains == name).astype(np.float32)
        parts.append(sp.csr_matrix(sp.diags(member * recipe.domain_scale) @ Xs))
        parts.append(sp.csr_matrix(member.reshape(-1, 1)))
    Xa = sp.hstack(parts, format="csr", dtype=np.float32) if names else sp.csr_matrix(Xs)
    clf = LogisticRegression(
        C=recipe.c, class_weight=recipe.class_weight, solver="liblinear", max_iter=1000, random_state=0
    )
    clf.fit(Xa, y, sample_weight=weights)
    coef = clf.coef_.ravel()[: X.shape[1]]
    if ratio is not None:
        coef = coef * ratio
    return coef.astype(np.float32), float(clf.intercept_[0])


def _nb_ratio(X: sp.csr_matrix, y: np.ndarray, weights: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    B = X.copy()
    B.data[:] = 1.0  # binarised presence, as in NB-SVM
    p = np.asarray(B.T @ (weights * (y == 1))).ravel() + alpha
    q = np.asarray(B.T @ (weights * (y == 0))).ravel() + alpha
    return np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)


def platt(decisions: np.ndarray, y: np.ndarray, weights: np.ndarray, balanced: bool) -> tuple[float, float]:
    """(a, b) of ``sigmoid(a * d + b)`` fitted to the labels (weighted logistic regression on d)."""
    if len(set(y.tolist())) < 2:
        return 1.0, 0.0
    lr = LogisticRegression(C=1e4, class_weight="balanced" if balanced else None)
    lr.fit(decisions.reshape(-1, 1), y, sample_weight=weights)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def oof_decisions(
    feats: Featurizer,
    counts: Sequence[sp.csr_matrix],
    y: np.ndarray,
    weights: np.ndarray,
    domains: np.ndarray,
    folds: np.ndarray,
    recipe: Recipe,
    progress: Progress = _quiet,
    score_rows: np.ndarray | None = None,
) -> np.ndarray:
    """Decision value of every row from a model fitted without its fold (cross-fitting).

    ``score_rows`` (bool mask) limits which rows are ever scored; the others only train.
    """
    out = np.zeros(len(y), dtype=np.float64)
    k = int(folds.max()) + 1 if len(folds) else 0
    for f in range(k):
        t0 = time.monotonic()
        test = folds == f
        if score_rows is not None:
            test &= score_rows
        train_rows = folds != f
        X, _ = weigh_rows(feats, counts, train_rows)
        coef, b = fit_linear(X[train_rows], y[train_rows], weights[train_rows], domains[train_rows], recipe)
        out[test] = X[test] @ coef + b
        progress(f"calibration fold {f + 1}/{k}: fitted on {int(train_rows.sum()):,} rows "
                 f"in {time.monotonic() - t0:.1f}s")
    return out


def fit_model(
    texts: Sequence[str],
    counts: Sequence[sp.csr_matrix],
    y: np.ndarray,
    weights: np.ndarray,
    domains: np.ndarray,
    recipe: Recipe,
    progress: Progress = _quiet,
) -> Fitted:
    """Calibration by cross-fitting, then the final fit on every row (see the module docstring)."""
    t0 = time.monotonic()
    feats = Featurizer(recipe.params)
    a, b = 1.0, 0.0
    oof = None
    if recipe.calibration_folds >= 2:
        folds = fold_of(texts, recipe.calibration_folds)
        oof = oof_decisions(feats, counts, y, weights, domains, folds, recipe, progress)
        a, b = platt(oof, y, weights, recipe.calibration_balanced)
        progress(f"Platt calibration on {len(y):,} out-of-fold decisions: a={a:.3f} b={b:.3f}")
        if not a > 0:  # out-of-fold decisions carry no signal (far too few rows): never invert the model
            progress("calibration slope is not positive (too few rows to cross-fit); the model stays uncalibrated")
            a, b = 1.0, 0.0
    t1 = time.monotonic()
    X, idfs = weigh_rows(feats, counts, None)
    coef, intercept = fit_linear(X, y, weights, domains, recipe)
    progress(f"final fit on {len(y):,} rows x {X.shape[1]:,} hashed columns in {time.monotonic() - t1:.1f}s")
    return Fitted(coef=coef, intercept=intercept, idfs=idfs, platt=(a, b), seconds=time.monotonic() - t0,
                  oof_decisions=oof)
