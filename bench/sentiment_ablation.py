"""What each idea bought: `python bench/sentiment.py --ablation` (about 8 minutes on 2 cores).

Every variant runs the training code itself (``nlp.learn``: hashed features, the fit, the
calibration) on the three Chinese train files; dev is never looked at here, so the shipped
recipe could be chosen on these figures without touching the split it is reported on.

- cv (in-domain): 5-fold cross-fitting over all three train files together (folds by a hash
  of the text); every training row is scored once by a model that did not see it; macro-F1
  per corpus at the shipped decision rule (balanced Platt fitted on the out-of-fold decisions,
  P > 0.5). Each corpus has 6,000-15,000 rows here, so differences of ~0.005 are signal.
- lodo (transfer): fitted on two corpora, scored on every row of the third (no Platt: the
  decision value > 0): the proxy for the product domains the model has never seen.
- neutral probe: 20 plain statements about brands, written for this check (no opinion in them;
  brand mentions are mostly like this), scored by the variant fitted on all rows with its cv
  Platt: mean P(positive) and how many fall below 0.4, i.e. would be shown as negative.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.features import FeatureParams, Featurizer  # noqa: E402
from nlp.learn import Recipe, fit_linear, fold_of, oof_decisions, platt, weigh_rows  # noqa: E402
from nlp.normalize import normalize  # noqa: E402
from nlp.segment import Segmenter  # noqa: E402
from nlp.train import ZH_SETS, read_csv  # noqa: E402

FOLDS = 5
NEUTRAL_PROBE = [
    "我今天去了阿克米咖啡", "星河手机发布了新款", "青禾乳业在杭州开了一家门店", "明天下午三点开会",
    "小米发布会定在下周二", "华为的新店在南京西路", "刚下单了一杯拿铁", "这款手机有黑白两种颜色",
    "京东的快递今天到了", "麦当劳推出了新的套餐", "周末去宜家逛了一圈", "公司年会在酒店举行",
    "阿克米咖啡的营业时间是早上八点到晚上十点", "我在用华为手机", "他们把门店搬到了二楼", "这家外卖店换了新的包装",
    "航班改到了下午四点", "淘宝双十一开始预售", "今天的会议讨论了新品定价", "青禾牛奶在超市有卖",
]

PLAIN = Recipe(
    params=FeatureParams(mark_n_features=0, sublinear_tf=False),
    c=4.0,
    class_weight=None,
    domain_scale=0.0,
)
_NEG = FeatureParams()  # negation marks (the default mark block)


def variants(shipped: Recipe) -> list[tuple[str, Recipe]]:
    """(label, recipe): each row adds one idea to the row it names, the last is what ships."""
    sub = replace(PLAIN, params=replace(PLAIN.params, sublinear_tf=True))
    bal = replace(sub, class_weight="balanced")
    neg = replace(bal, params=_NEG)
    rows = [
        ("A words 1-2 + chars 1-3 tf-idf, LR C=4 (the plain baseline)", PLAIN),
        ("B = A + sublinear tf", sub),
        ("C = B + balanced class weights", bal),
        ("D = C + chars 1-4", replace(bal, params=replace(bal.params, char_ngram=(1, 4)))),
        ("E = C + 4x hashed columns (2^20 per block: collisions)",
         replace(bal, params=replace(bal.params, word_n_features=2**20, char_n_features=2**20))),
        ("F = C + C=10", replace(bal, c=10.0)),
        ("G = C + NB-SVM log-count ratios", replace(bal, nb_ratio=True)),
        ("H = C + negation-scope marks", neg),
        ("I = H + degree-adverb marks", replace(neg, params=replace(_NEG, mark_kinds=("negation", "degree")))),
        ("J = H + contrast-clause marks", replace(neg, params=replace(_NEG, mark_kinds=("negation", "contrast")))),
        ("K = H + shared weights x0.3 (the previous model's recipe)", replace(neg, domain_scale=0.3)),
        ("L = H + shared weights x0.1", replace(neg, domain_scale=0.1)),
    ]
    out = [(label + (" = shipped" if recipe == shipped else ""), recipe) for label, recipe in rows]
    return out if any(recipe == shipped for _l, recipe in rows) else [*out, ("shipped", shipped)]


@dataclass
class _Corpus:
    texts: list[str]
    tokens: list[list[str]]
    y: np.ndarray
    domains: np.ndarray


def _load(data: Path) -> _Corpus:
    seg = Segmenter(backend="jieba")
    texts: list[str] = []
    ys: list[int] = []
    doms: list[str] = []
    for name in ZH_SETS:
        t, y = read_csv(data / f"{name}.train.csv")
        texts += [normalize(x) for x in t]
        ys += y
        doms += [name] * len(t)
    return _Corpus(texts, [seg.tokens(t) for t in texts], np.asarray(ys), np.asarray(doms))


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    return round(float(f1_score(y, pred, average="macro")), 4)


def evaluate(corpus: _Corpus, recipe: Recipe) -> tuple[dict[str, float], dict[str, float]]:
    """(cv macro-F1 per corpus at the recipe's decision rule, lodo macro-F1 per corpus).

    cv also holds "raw" and "prior": the cv mean at decision > 0 (no calibration) and with
    Platt fitted as sampled (not balanced), from the same out-of-fold decisions."""
    feats = Featurizer(recipe.params)
    counts = feats.counts(corpus.texts, corpus.tokens)
    w = np.ones(len(corpus.y))
    y, doms = corpus.y, corpus.domains
    oof = oof_decisions(feats, counts, y, w, doms, fold_of(corpus.texts, FOLDS, salt="ablation"), recipe)
    a, b = platt(oof, y, w, recipe.calibration_balanced) if recipe.calibration_folds else (1.0, 0.0)
    pred = (a * oof + b > 0).astype(int)
    cv = {name: _f1(y[doms == name], pred[doms == name]) for name in ZH_SETS}
    a1, b1 = platt(oof, y, w, balanced=False)
    for key, p in (("raw", oof > 0), ("prior", a1 * oof + b1 > 0)):
        cv[key] = round(float(np.mean([_f1(y[doms == n], p[doms == n].astype(int)) for n in ZH_SETS])), 4)
    X, idfs = weigh_rows(feats, counts, None)  # the variant fitted on all rows, with the cv Platt
    coef, b0 = fit_linear(X, y, w, doms, recipe)
    seg = Segmenter(backend="jieba")
    probe = [normalize(t) for t in NEUTRAL_PROBE]
    Xp = feats.weigh(feats.counts(probe, [seg.tokens(t) for t in probe]), idfs)
    p = 1.0 / (1.0 + np.exp(-(a * (Xp @ coef + b0) + b)))
    cv["probe_mean"] = round(float(p.mean()), 3)
    cv["probe_negative"] = int((p < 0.4).sum())
    lodo = {}
    for held in ZH_SETS:
        train_rows = doms != held
        X, _ = weigh_rows(feats, counts, train_rows)
        coef, b0 = fit_linear(X[train_rows], y[train_rows], w[train_rows], doms[train_rows], recipe)
        lodo[held] = _f1(y[~train_rows], (X[~train_rows] @ coef + b0 > 0).astype(int))
    return cv, lodo


def ablation(data: Path, shipped: Recipe, only: Sequence[str] = ()) -> list[tuple[str, dict, dict]]:
    corpus = _load(data)
    rows = []
    for label, recipe in variants(shipped):
        if only and not any(label.startswith(o) for o in only):
            continue
        t0 = time.monotonic()
        cv, lodo = evaluate(corpus, recipe)
        rows.append((label, cv, lodo))
        print(f"  ablation ({time.monotonic() - t0:.0f}s) {label}: cv {cv} lodo {lodo}", file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[tuple[str, dict, dict]]) -> None:
    print("\n## What each idea bought (macro-F1 on the train files; dev never used)\n")
    heads = [f"cv {s[3:]}" for s in ZH_SETS] + ["cv mean", "cv mean, d > 0", "cv mean, Platt as sampled"]
    heads += [f"lodo {s[3:]}" for s in ZH_SETS] + ["lodo mean", "probe mean P", "probe < 0.4"]
    print("| recipe | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for label, cv, lodo in rows:
        cells = [f"{cv[s]:.3f}" for s in ZH_SETS] + [f"{np.mean([cv[s] for s in ZH_SETS]):.3f}"]
        cells += [f"{cv['raw']:.3f}", f"{cv['prior']:.3f}"]
        cells += [f"{lodo[s]:.3f}" for s in ZH_SETS] + [f"{np.mean(list(lodo.values())):.3f}"]
        cells += [f"{cv['probe_mean']:.3f}", f"{cv['probe_negative']}/{len(NEUTRAL_PROBE)}"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\ncv: 5-fold cross-fitting, balanced Platt on the out-of-fold decisions, P > 0.5 (the shipped rule); "
          "d > 0: the same decisions uncalibrated; Platt as sampled: calibrated to the corpora's class mix. "
          "lodo: trained on the other two corpora, decision > 0. probe: 20 plain statements (NEUTRAL_PROBE), "
          "mean P(positive) and how many score below 0.4.")


if __name__ == "__main__":
    from nlp.train import RECIPE

    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/data/sentiment"
    print_table(ablation(data, RECIPE, sys.argv[2:]))
