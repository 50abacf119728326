"""Sentiment quality and speed: our pipeline against SnowNLP and a plain TF-IDF baseline.

One command, one table (train files only for training, every figure on the dev files):

    python bench/sentiment.py                      # ~3 min: quality, neutral band, speed, rjieba
    python bench/sentiment.py --ablation           # + what each idea bought (tune split of train)
    python bench/sentiment.py --data ../shared/data/sentiment --skip-snownlp

Rows of the quality table:
  ours         the shipped recipe (nlp.train.train into a temp folder, scored through
               SentimentModel as the daemon does; English via the VADER rules)
  ours+en      the same recipe trained with en_airline too (local only, never shipped: CC BY-NC-SA)
  snownlp      SnowNLP's built-in sentiment (its own model, trained on product reviews)
  tfidf-words  jieba words 1-2, TF-IDF, logistic regression, trained on all four train files
  vader        plain VADER, compound > 0 (the previous English path)

Speed is measured single-process on the zh_weibo dev texts: the whole scoring path
(``SentimentModel.score``: normalise, tokenise, features, linear model, calibration) against
jieba's own tokenisation of the same texts, the floor a jieba-based pipeline cannot beat.
Needs snownlp (``pip install snownlp``, the ``bench`` extra) unless --skip-snownlp.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jieba  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from nlp.english import EnglishRules, vader_compound, vader_probability  # noqa: E402
from nlp.features import FeatureParams, Featurizer, idf_from_counts  # noqa: E402
from nlp.normalize import normalize  # noqa: E402
from nlp.segment import Segmenter  # noqa: E402
from nlp.sentiment import SentimentModel  # noqa: E402
from nlp.train import EN_SET, ZH_SETS, fit_shared, read_csv, train  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment"
SETS = (*ZH_SETS, EN_SET)
PLAIN_NEUTRAL = ["我今天去了阿克米咖啡", "星河手机发布了新款", "青禾乳业在杭州开了一家门店", "明天下午三点开会"]
SHORT_MIXED = ["垃圾服务!!!", "😡😡", "👍", "用了一周 Xiaomi 的新耳机，音质真不错", "ACME Coffee 的外卖又洒了，无语"]


def _scores(y: Sequence[int], pred: Sequence[int]) -> tuple[float, float]:
    return float(accuracy_score(y, pred)), float(f1_score(y, pred, average="macro"))


def _rate(fn: Callable[[], object], n: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def quality(
    data: Path, skip_snownlp: bool, tmp: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], SentimentModel]:
    dev = {name: read_csv(data / f"{name}.dev.csv") for name in SETS}
    table: dict[str, dict[str, Any]] = {}
    report = train(data, tmp / "ours")
    model = SentimentModel.load(tmp / "ours")
    local = train(data, tmp / "ours-en", include_english=True)
    table["ours"] = {k: (v["accuracy"], v["macro_f1"]) for k, v in report["dev"].items()}
    table["ours+en"] = {k: (v["accuracy"], v["macro_f1"]) for k, v in local["dev"].items()}
    plain = report["dev"][EN_SET]["plain_vader"]
    table["vader"] = {EN_SET: (plain["accuracy"], plain["macro_f1"])}

    seg = Segmenter(backend="jieba")
    tr_tok: list[list[str]] = []
    tr_y: list[int] = []
    for name in SETS:
        t, y = read_csv(data / f"{name}.train.csv")
        tr_tok += [seg.tokens(normalize(x)) for x in t]
        tr_y += y
    vec = TfidfVectorizer(analyzer=lambda toks: toks + [a + " " + b for a, b in zip(toks, toks[1:], strict=False)])
    clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform(tr_tok), tr_y)
    table["tfidf-words"] = {}
    for name, (t, y) in dev.items():
        pred = clf.predict(vec.transform([seg.tokens(normalize(x)) for x in t]))
        table["tfidf-words"][name] = _scores(y, pred)

    if not skip_snownlp:
        from snownlp import SnowNLP

        table["snownlp"] = {}
        for name, (t, y) in dev.items():
            pred = [int(SnowNLP(x).sentiments > 0.5) if x.strip() else 0 for x in t]
            table["snownlp"][name] = _scores(y, pred)
    return table, report, model


def speed(data: Path, model: SentimentModel) -> dict[str, float]:
    texts, _ = read_csv(data / "zh_weibo.dev.csv")
    norm = [normalize(t) for t in texts]
    tk = jieba.Tokenizer()
    tk.initialize()
    out = {"texts": len(texts), "chars_median": float(np.median([len(t) for t in texts]))}
    out["jieba"] = _rate(lambda: [list(tk.cut(t)) for t in norm], len(texts))
    for backend in ("jieba", "rjieba"):
        scorer = SentimentModel.load(model.path, segmenter=Segmenter(backend=backend))
        out[f"path[{backend}]"] = _rate(partial(scorer.score, texts), len(texts))
    rj = Segmenter(backend="rjieba")
    out["rjieba"] = _rate(lambda: [rj.tokens(t) for t in norm], len(texts))
    return out


def rjieba_agreement(data: Path) -> dict[str, Any]:
    ref, fast = Segmenter(backend="jieba"), Segmenter(backend="rjieba")
    out: dict[str, Any] = {}
    for name in SETS:
        t, _ = read_csv(data / f"{name}.dev.csv")
        norm = [normalize(x) for x in t]
        same = sum(ref.tokens(x) == fast.tokens(x) for x in norm)
        out[name] = (same, len(norm))
    words = ["阿克米咖啡", "青禾乳业", "星河手机", "蓝莓燕麦拿铁"]
    ref, fast = Segmenter(backend="jieba", words=words), Segmenter(backend="rjieba", words=words)
    probe = "我在阿克米咖啡点了蓝莓燕麦拿铁，青禾乳业和星河手机也在搞活动"
    out["user_words"] = ref.tokens(probe) == fast.tokens(probe) and all(w in fast.tokens(probe) for w in words)
    return out


def ablation(data: Path) -> list[tuple[str, dict[str, float], dict[str, float]]]:
    """Macro-F1 on a 15% tune slice of each train file (in-domain) and leave-one-corpus-out
    (train on two Chinese corpora, test on the third's tune slice): the figures the choices
    were made on. dev is never looked at here."""
    seg = Segmenter(backend="jieba")
    rows: dict[str, list[tuple[str, list[int], bool]]] = {}
    for name in ZH_SETS:
        t, y = read_csv(data / f"{name}.train.csv")
        rows[name] = [(normalize(x), [lab], hashlib.sha1(("tune" + normalize(x)).encode()).digest()[0] % 100 < 15)
                      for x, lab in zip(t, y, strict=True)]
    toks = {name: [seg.tokens(r[0]) for r in rs] for name, rs in rows.items()}
    base = FeatureParams(mark_n_features=0)
    configs: list[tuple[str, FeatureParams, float, float]] = [
        ("word 1-2 + char 1-3, sublinear tf-idf, balanced LR (previous model)", base, 4.0, 0.0),
        ("+ char 1-4", FeatureParams(mark_n_features=0, char_ngram=(1, 4)), 4.0, 0.0),
        ("+ word 1-3", FeatureParams(mark_n_features=0, word_ngram=(1, 3)), 4.0, 0.0),
        ("C = 10 instead of 4", base, 10.0, 0.0),
        ("+ negation-scope marks", FeatureParams(), 4.0, 0.0),
        ("+ shared weights (per-corpus copies x0.3), no marks", base, 4.0, 0.3),
        ("+ shared weights + negation marks (shipped)", FeatureParams(), 4.0, 0.3),
    ]
    out = []
    for label, params, c, scale in configs:
        feats = Featurizer(params)
        inside = _fit_eval(feats, rows, toks, list(ZH_SETS), list(ZH_SETS), c, scale)
        lodo = {}
        for held in ZH_SETS:
            lodo.update(_fit_eval(feats, rows, toks, [k for k in ZH_SETS if k != held], [held], c, scale))
        out.append((label, inside, lodo))
        print(f"  ablation: {label}: {inside} lodo {lodo}", file=sys.stderr, flush=True)
    return out


def _fit_eval(feats: Featurizer, rows: dict, toks: dict, train_on: list[str], test_on: list[str],
              c: float, scale: float) -> dict[str, float]:
    def pick(names: list[str], tune: bool) -> tuple[list[str], list[list[str]], list[int], list[str]]:
        sel = [(r[0], tk, r[1][0], n) for n in names for r, tk in zip(rows[n], toks[n], strict=True) if r[2] == tune]
        return [s[0] for s in sel], [s[1] for s in sel], [s[2] for s in sel], [s[3] for s in sel]

    t, tk, y, d = pick(train_on, False)
    counts = feats.counts(t, tk)
    idfs = [idf_from_counts(b) for b in counts]
    coef, b = fit_shared(feats.weigh(counts, idfs), np.asarray(y), np.asarray(d), c, scale)
    res = {}
    for name in test_on:
        et, etk, ey, _ = pick([name], True)
        dec = feats.weigh(feats.counts(et, etk), idfs) @ coef + b
        res[name] = round(float(f1_score(ey, (dec > 0).astype(int), average="macro")), 4)
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--skip-snownlp", action="store_true")
    ap.add_argument("--ablation", action="store_true")
    args = ap.parse_args(argv)
    if not (args.data / "zh_weibo.train.csv").exists():
        print(f"no labelled data in {args.data!s} (expected ../shared/data/sentiment beside the repo)")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        return _run(args, Path(tmp))


def _run(args: argparse.Namespace, tmp: Path) -> int:
    table, report, model = quality(args.data, args.skip_snownlp, tmp)
    print("\n## Quality on the dev files (accuracy / macro-F1)\n")
    print("| system | " + " | ".join(SETS) + " |")
    print("|---|" + "---|" * len(SETS))
    for system, per_set in table.items():
        row = [f"{per_set[s][0]:.3f} / {per_set[s][1]:.3f}" if s in per_set else "-" for s in SETS]
        print(f"| {system} | " + " | ".join(row) + " |")
    print(f"\n## Neutral band {model.neutral_band} (ours)\n")
    print("| dev set | scorer | neutral fraction | accuracy outside band |")
    print("|---|---|---|---|")
    for name, s in report["dev"].items():
        print(f"| {name} | {s['scorer']} | {s['neutral_fraction']:.3f} | {s['accuracy_outside_band']:.3f} |")
    en = EnglishRules()
    t, y = read_csv(args.data / f"{EN_SET}.dev.csv")
    comp = [(vader_compound(normalize(x)), en.cues(normalize(x))) for x in t]
    print("\nEnglish rules, macro-F1 on en_airline.dev by positive_floor / cue_weight (shipped 0.3 / 1.0):")
    for floor in (0.0, 0.3, 0.5):
        cells: list[str] = []
        for w in (0.0, 1.0):
            r = EnglishRules(positive_floor=floor, cue_weight=w)
            pred = [int(r.from_compound(c, k) > 0.5) for c, k in comp]
            cells.append(f"{w}: {f1_score(y, pred, average='macro'):.3f}")
        print(f"  floor {floor}: " + ", ".join(cells))
    plain = f1_score(y, [int(vader_probability(c) > 0.5) for c, _ in comp], average="macro")
    print(f"  plain VADER p = sigmoid(8.1 c): {plain:.3f}")
    print("\nPlain neutral statements and short / mixed texts (P(positive), label):")
    for text, s in zip(PLAIN_NEUTRAL + SHORT_MIXED, model.score(PLAIN_NEUTRAL + SHORT_MIXED), strict=True):
        print(f"  {s.score:.3f} {s.label.value:8s} {text}")

    sp_ = speed(args.data, model)
    print(f"\n## Speed (single process, {sp_['texts']} zh_weibo dev texts, median {sp_['chars_median']:.0f} chars)\n")
    print("| what | texts/s | vs jieba alone |")
    print("|---|---|---|")
    for key in ("jieba", "rjieba", "path[jieba]", "path[rjieba]"):
        print(f"| {key} | {sp_[key]:,.0f} | {sp_[key] / sp_['jieba']:.2f} |")
    print("\n(path[x]: SentimentModel.score with the x tokenizer; the daemon's default is rjieba when installed)")

    agree = rjieba_agreement(args.data)
    print("\n## rjieba vs jieba tokens on the dev texts\n")
    for name in SETS:
        same, n = agree[name]
        print(f"  {name}: {same}/{n} identical ({same / n:.4%})")
    print(f"  brand/user words honoured identically: {agree['user_words']}")

    if args.ablation:
        rows = ablation(args.data)
        print("\n## What each idea bought (macro-F1; tune = 15% slice of train; LODO = other corpora only)\n")
        heads = [f"tune {s}" for s in ZH_SETS] + [f"LODO {s}" for s in ZH_SETS]
        print("| features | " + " | ".join(heads) + " | LODO mean |")
        print("|---|" + "---|" * 7)
        for label, inside, lodo in rows:
            figures = [f"{inside[s]:.3f}" for s in ZH_SETS] + [f"{lodo[s]:.3f}" for s in ZH_SETS]
            print(f"| {label} | " + " | ".join(figures) + f" | {np.mean(list(lodo.values())):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
