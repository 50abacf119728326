"""Sentiment quality and speed: our pipeline against SnowNLP and plain TF-IDF baselines.

One command, one report (train files only for training, every figure on the dev files):

    python bench/sentiment.py                      # ~4 min: quality, neutral band, checks, speed, rjieba
    python bench/sentiment.py --ablation           # + what each idea bought (~8 min more; train files only)
    python bench/sentiment.py --data ../shared/data/sentiment --skip-snownlp

Rows of the quality table:
  ours               the shipped recipe (nlp.train.train into a temp folder, scored through
                     SentimentModel as the daemon does; English via the VADER rules)
  ours+en            the same recipe trained with en_airline too (local only, never shipped: CC BY-NC-SA)
  tfidf-words+chars  the reference baseline: jieba words 1-2 + characters 1-3, TF-IDF, logistic
                     regression (scikit-learn defaults), trained on all four train files
  tfidf-words        jieba words 1-2 only, otherwise the same
  snownlp            SnowNLP's built-in sentiment (its own model, trained on product reviews)
  vader              plain VADER, P = sigmoid(8.1 compound) > 0.5 (the first English path)

Checks (each a measured before/after on dev): Traditional -> Simplified on the Chinese dev texts
converted to Traditional; the emoji table on the dev texts holding one of its entries; VADER on
the English words of Chinese dev texts that contain some.

Speed is measured single-process on the zh_weibo dev texts: the whole scoring path
(``SentimentModel.score``: normalise, tokenise, features, linear model, calibration) against
jieba's own tokenisation of the same texts, the floor a jieba-based pipeline cannot beat.
Needs snownlp (``pip install snownlp``, the ``bench`` extra) unless --skip-snownlp.
"""

from __future__ import annotations

import argparse
import math
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
import opencc  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from nlp.english import latin_words  # noqa: E402
from nlp.evaluate import evaluate  # noqa: E402
from nlp.features import emoji_total, sigmoid  # noqa: E402
from nlp.normalize import _MENTION_RE, clean, normalize  # noqa: E402
from nlp.segment import Segmenter  # noqa: E402
from nlp.sentiment import SentimentModel  # noqa: E402
from nlp.train import EN_SET, RECIPE, ZH_SETS, read_csv, train  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment"
SETS = (*ZH_SETS, EN_SET)
PLAIN_NEUTRAL = ["我今天去了阿克米咖啡", "星河手机发布了新款", "青禾乳业在杭州开了一家门店", "明天下午三点开会"]
SHORT_MIXED = ["垃圾服务!!!", "😡😡", "👍", "用了一周 Xiaomi 的新耳机，音质真不错", "ACME Coffee 的外卖又洒了，无语",
               "华为 phone is terrible", "Huawei 的客服 super helpful, 点赞"]
BANDS = ((0.45, 0.55), (0.4, 0.6), (0.35, 0.65), (0.3, 0.7))


def _scores(y: Sequence[int], pred: Sequence[int]) -> tuple[float, float]:
    return float(accuracy_score(y, pred)), float(f1_score(y, pred, average="macro"))


def _rate(fn: Callable[[], object], n: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def _tfidf_baselines(data: Path, dev: dict[str, tuple[list[str], list[int]]]) -> dict[str, dict[str, Any]]:
    seg = Segmenter(backend="jieba")
    tr_text: list[str] = []
    tr_y: list[int] = []
    for name in SETS:
        t, y = read_csv(data / f"{name}.train.csv")
        tr_text += [normalize(x) for x in t]
        tr_y += y
    tr_tok = [seg.tokens(x) for x in tr_text]
    dev_norm = {k: [normalize(x) for x in t] for k, (t, _y) in dev.items()}
    dev_tok = {k: [seg.tokens(x) for x in v] for k, v in dev_norm.items()}

    def words(toks: list[str]) -> list[str]:
        return toks + [a + " " + b for a, b in zip(toks, toks[1:], strict=False)]

    out: dict[str, dict[str, Any]] = {}
    wv = TfidfVectorizer(analyzer=words)
    cv = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    Xw = wv.fit_transform(tr_tok)
    Xc = cv.fit_transform(tr_text)
    for label, with_chars in (("tfidf-words+chars", True), ("tfidf-words", False)):
        X = sp.hstack([Xw, Xc]).tocsr() if with_chars else Xw
        clf = LogisticRegression(max_iter=3000).fit(X, tr_y)
        out[label] = {}
        for name, (_t, y) in dev.items():
            Xd = wv.transform(dev_tok[name])
            if with_chars:
                Xd = sp.hstack([Xd, cv.transform(dev_norm[name])]).tocsr()
            out[label][name] = _scores(y, clf.predict(Xd))
    return out


def quality(data: Path, skip_snownlp: bool, tmp: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any], Path]:
    dev = {name: read_csv(data / f"{name}.dev.csv") for name in SETS}
    table: dict[str, dict[str, Any]] = {}
    report = train(data, tmp / "ours")
    local = train(data, tmp / "ours-en", include_english=True)
    table["ours"] = {k: (v["accuracy"], v["macro_f1"]) for k, v in report["dev"].items()}
    table["ours+en"] = {k: (v["accuracy"], v["macro_f1"]) for k, v in local["dev"].items()}
    table.update(_tfidf_baselines(data, dev))
    plain = report["dev"][EN_SET]["plain_vader"]
    table["vader"] = {EN_SET: (plain["accuracy"], plain["macro_f1"])}
    if not skip_snownlp:
        from snownlp import SnowNLP

        table["snownlp"] = {}
        for name, (t, y) in dev.items():
            pred = [int(SnowNLP(x).sentiments > 0.5) if x.strip() else 0 for x in t]
            table["snownlp"][name] = _scores(y, pred)
    return table, report, tmp / "ours"


def band_sweep(model: SentimentModel, data: Path) -> list[tuple[str, str, int, float, float]]:
    """(set, band, rows inside, share inside, accuracy outside) for a few neutral bands."""
    out = []
    for name in SETS:
        t, y = read_csv(data / f"{name}.dev.csv")
        probs = [p for p, _r in model.score_detail(t)]
        for band in BANDS:
            r = evaluate(probs, y, band)
            out.append((name, f"{band[0]:.2f}..{band[1]:.2f}", r["neutral_rows"], r["neutral_fraction"],
                        r["accuracy_outside_band"]))
    return out


def checks(model: SentimentModel, data: Path) -> list[tuple[str, int, float, float]]:
    """(what, rows, macro-F1 without, macro-F1 with) for the normalisation and table ideas."""
    s2t = opencc.OpenCC("s2t")
    zh = [(t, y) for name in ZH_SETS for t, y in zip(*read_csv(data / f"{name}.dev.csv"), strict=True)]
    out = []

    def f1(probs: Sequence[float], y: Sequence[int]) -> float:
        return float(f1_score(y, [int(p > 0.5) for p in probs], average="macro"))

    trad = [s2t.convert(t) for t, _y in zh]
    y = [lab for _t, lab in zh]
    no_t2s = [_MENTION_RE.sub("", clean(t)) for t in trad]  # normalize() without its last step
    without = [p for p, _r in model.score_detail(no_t2s, normalized=True)]
    with_ = [p for p, _r in model.score_detail(trad)]
    out.append(("Traditional -> Simplified (zh dev converted to Traditional)", len(y), f1(without, y), f1(with_, y)))

    emo = [(normalize(t), lab) for t, lab in zh if emoji_total(normalize(t)) != 0.0]
    if emo:
        texts = [t for t, _l in emo]
        ey = [lab for _t, lab in emo]
        base = model.probabilities(texts, [model._tokens(t) for t in texts])
        full = [p for p, _r in model.score_detail(texts, normalized=True)]
        out.append(("emoji/emoticon table added to the logit (zh dev texts holding an entry)", len(ey),
                    f1(base, ey), f1(full, ey)))
    mixed = [(normalize(t), lab) for t, lab in zh if latin_words(normalize(t))]
    if mixed:
        texts = [t for t, _l in mixed]
        my = [lab for _t, lab in mixed]
        no_en = [sigmoid(math.log(p / (1 - p)) - model.english.mixed_logit(t))
                 for (p, _r), t in zip(model.score_detail(texts, normalized=True), texts, strict=True)]
        full = [p for p, _r in model.score_detail(texts, normalized=True)]
        out.append(("VADER on the English words of Chinese posts (zh dev texts with Latin words)", len(my),
                    f1(no_en, my), f1(full, my)))
    return out


def speed(data: Path, model_dir: Path) -> dict[str, float]:
    texts, _ = read_csv(data / "zh_weibo.dev.csv")
    norm = [normalize(t) for t in texts]
    tk = jieba.Tokenizer()
    tk.initialize()
    out = {"texts": len(texts), "chars_median": float(np.median([len(t) for t in texts]))}
    out["jieba"] = _rate(lambda: [list(tk.cut(t)) for t in norm], len(texts))
    for backend in ("jieba", "rjieba"):
        scorer = SentimentModel.load(model_dir, segmenter=Segmenter(backend=backend))
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


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
    t0 = time.monotonic()
    table, report, model_dir = quality(args.data, args.skip_snownlp, tmp)
    model = SentimentModel.load(model_dir)
    print("\n## Quality on the dev files (accuracy / macro-F1)\n")
    print("| system | " + " | ".join(SETS) + " |")
    print("|---|" + "---|" * len(SETS))
    for system, per_set in table.items():
        row = [f"{per_set[s][0]:.3f} / {per_set[s][1]:.3f}" if s in per_set else "-" for s in SETS]
        print(f"| {system} | " + " | ".join(row) + " |")
    print(f"\nours: trained in {report['train_seconds']:.0f}s, artifact {report['artifact_bytes'] / 1e6:.1f} MB; "
          f"targets 0.91 hotel / 0.91 waimai / 0.89 weibo / 0.90 airline (macro-F1)")

    print(f"\n## Three classes: the neutral band (ours; shipped band {model.neutral_band})\n")
    print("| dev set | band | rows inside | share inside | accuracy outside |")
    print("|---|---|---|---|---|")
    for name, band, rows, share, acc in band_sweep(model, args.data):
        print(f"| {name} | {band} | {rows} | {share:.3f} | {acc:.3f} |")

    print("\n## Checks (macro-F1 without / with)\n")
    for what, rows, without, with_ in checks(model, args.data):
        print(f"- {what}: {rows} rows, {without:.3f} -> {with_:.3f}")
    print("\nPlain neutral statements and short / mixed texts (P(positive), label, route):")
    detail = model.score_detail(PLAIN_NEUTRAL + SHORT_MIXED)
    for text, (p, r) in zip(PLAIN_NEUTRAL + SHORT_MIXED, detail, strict=True):
        print(f"  {p:.3f} {model.to_sentiment(p).label.value:8s} {r:6s} {text}")

    sp_ = speed(args.data, model_dir)
    print(f"\n## Speed (single process, {sp_['texts']} zh_weibo dev texts, median {sp_['chars_median']:.0f} chars)\n")
    print("| what | texts/s | vs jieba alone |")
    print("|---|---|---|")
    for key in ("jieba", "rjieba", "path[jieba]", "path[rjieba]"):
        print(f"| {key} | {sp_[key]:,.0f} | {sp_[key] / sp_['jieba']:.2f} |")
    print("\n(path[x]: SentimentModel.score with the x tokenizer; the daemon's default is rjieba when installed; "
          "target >= 0.75 of jieba alone)")

    agree = rjieba_agreement(args.data)
    print("\n## rjieba vs jieba tokens on the dev texts\n")
    for name in SETS:
        same, n = agree[name]
        print(f"  {name}: {same}/{n} identical ({same / n:.4%})")
    print(f"  brand/user words honoured identically: {agree['user_words']}")

    if args.ablation:
        from bench.sentiment_ablation import ablation, print_table

        print_table(ablation(args.data, RECIPE))
    print(f"\n(bench took {time.monotonic() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
