"""Train and evaluate the sentiment model from the shared labelled data -> artifact + report.

    report = train(Path("../shared/data/sentiment"), Path("nlp/model"), progress=print)
    report["dev"]["zh_weibo"]["macro_f1"]
    train(data, out, extra_examples=[("客服态度真好", "positive"), ...])      # analyst corrections

Run by ``brandpulse train`` (or ``python -m nlp.train DATA_DIR OUT_DIR``); never imported at
runtime. One model for all Chinese domains, fitted on the ``*.train.csv`` files and reported on
``*.dev.csv``; the recipe (``RECIPE``: features, class weights, shared weights, calibration) is
``nlp.learn``'s, chosen on cross-validation of the train files (bench/sentiment_ablation.py).

Extra examples (``extra_examples``, e.g. analyst relabels read by the CLI from the store; this
module never touches the store) join the fitted rows only, with weight ``CORRECTION_WEIGHT``:
a handful of corrections among ~31,000 rows would otherwise change nothing. "neutral" becomes
one positive and one negative row of half that weight each (a soft 0.5 target), which pulls the
text towards the neutral band. The dev files stay untouched, and the report gives dev scores of
the same recipe without the extra rows (same calibration) beside the new ones.

The shipped model uses the Chinese sets only. ``include_english=True`` adds en_airline (CC
BY-NC-SA 4.0: non-commercial, share-alike) to the same model; such a model is for local use,
its card carries the notice, and it cannot be written into the package's own nlp/model/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitor.defaults import NEUTRAL_BAND
from monitor.errors import ModelError
from nlp.english import EnglishRules, vader_compound, vader_probability
from nlp.evaluate import NEUTRAL, POSITIVE, evaluate, read_labelled_csv, three_way
from nlp.features import ZH, FeatureParams, Featurizer, route
from nlp.learn import Recipe, fit_model
from nlp.model_card import ATTRIBUTION, write_model_card
from nlp.normalize import normalize
from nlp.segment import Segmenter
from nlp.sentiment import FORMAT, SHIPPED_MODEL_DIR, SentimentModel

log = logging.getLogger(__name__)

ZH_SETS = ("zh_hotel", "zh_waimai", "zh_weibo")
EN_SET = "en_airline"
RECIPE = Recipe(params=FeatureParams(), c=4.0, class_weight="balanced", domain_scale=0.3)
CORRECTION_WEIGHT = 5.0  # one analyst correction counts as this many training rows

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


def read_csv(path: Path, sample: int | None = None) -> tuple[list[str], list[int]]:
    """(texts, 1/0 labels) from one ``label,text`` file; ``sample`` keeps a deterministic subset."""
    texts, names = read_labelled_csv(path, binary_only=True)
    rows = [(t, int(n == POSITIVE)) for t, n in zip(texts, names, strict=True)]
    if sample is not None and sample < len(rows):
        rows.sort(key=lambda r: hashlib.sha1(r[0].encode("utf-8")).digest())  # deterministic, label-blind
        rows = rows[:sample]
    return [r[0] for r in rows], [r[1] for r in rows]


def expand_examples(examples: Sequence[tuple[str, str]], weight: float) -> tuple[list[str], list[int], list[float]]:
    """(texts, 1/0 labels, weights): "neutral" -> a positive and a negative row of half weight."""
    texts: list[str] = []
    labels: list[int] = []
    weights: list[float] = []
    for text, label in examples:
        name = str(label).strip().lower()
        name = {"1": "positive", "0": "negative"}.get(name, name)
        if name == NEUTRAL:
            texts += [text, text]
            labels += [1, 0]
            weights += [weight / 2, weight / 2]
        elif name in ("positive", "negative"):
            texts.append(text)
            labels.append(int(name == POSITIVE))
            weights.append(weight)
        else:
            raise ModelError(f"extra example label {label!r} is not positive, negative or neutral",
                             path="extra_examples")
    return texts, labels, weights


def _tokenise(seg: Segmenter, texts: list[str], progress: Progress) -> list[list[str]]:
    out: list[list[str]] = []
    marks = {len(texts) * k // 4 for k in range(1, 5)}
    for i, t in enumerate(texts, start=1):
        out.append(seg.tokens(t))
        if i in marks:
            progress(f"tokenised {i:,}/{len(texts):,} texts")
    return out


def train(
    data_dir: Path,
    out_dir: Path,
    *,
    include_english: bool = False,
    sample: int | None = None,
    recipe: Recipe = RECIPE,
    extra_examples: Sequence[tuple[str, str]] = (),
    correction_weight: float = CORRECTION_WEIGHT,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train on ``data_dir/*.train.csv`` (+ ``extra_examples``), evaluate on ``*.dev.csv``, write
    the artifact to ``out_dir`` (model.json, weights.npz, MODEL_CARD.md); return the report."""
    say = progress or _quiet
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if include_english and out_dir.resolve() == SHIPPED_MODEL_DIR.resolve():
        raise ModelError(
            "refusing to write a model trained on en_airline (CC BY-NC-SA 4.0) into the "
            "shipped package directory; choose another out_dir",
            path=str(out_dir),
        )
    t0 = time.monotonic()
    sets = list(ZH_SETS) + ([EN_SET] if include_english else [])
    seg = Segmenter(backend="jieba")  # the reference tokenizer defines the training features

    raw: list[str] = []
    labels: list[int] = []
    domains: list[str] = []
    for name in sets:
        t, y = read_csv(data_dir / f"{name}.train.csv", sample)
        raw += t
        labels += y
        domains += [name] * len(t)
        say(f"read {name}.train.csv: {len(t):,} rows ({sum(y):,} positive)")
    n_files = len(raw)
    given = len(extra_examples)
    if not include_english:  # English is scored by the VADER rules, which learn nothing from rows
        extra_examples = [(t, lab) for t, lab in extra_examples if route(normalize(t)) == ZH]
    skipped = given - len(extra_examples)
    x_texts, x_labels, x_weights = expand_examples(extra_examples, correction_weight)
    if given:
        say(f"extra examples: {len(extra_examples):,} corrections -> {len(x_texts):,} rows of weight "
            f"{correction_weight:g} (neutral: half a row each way)"
            + (f"; {skipped:,} not Chinese, left out (their route is not the trained model)" if skipped else ""))
    raw += x_texts
    labels += x_labels
    domains += [""] * len(x_texts)  # no corpus: corrections only inform the shared weights
    weights = np.asarray([1.0] * n_files + x_weights)
    norm = [normalize(t) for t in raw]
    toks = _tokenise(seg, norm, say)
    feats = Featurizer(recipe.params)
    t1 = time.monotonic()
    counts = feats.counts(norm, toks)
    say(f"hashed {sum(b.nnz for b in counts):,} n-gram counts into {recipe.params.n_features:,} columns "
        f"in {time.monotonic() - t1:.1f}s")
    y_all, dom_all = np.asarray(labels), np.asarray(domains)
    fitted = fit_model(norm, counts, y_all, weights, dom_all, recipe, say)
    base = None
    if x_texts:  # the same recipe without the corrections, for the before/after report
        files = np.arange(len(norm)) < n_files
        base_counts = [b[files] for b in counts]
        base = fit_model(norm[:n_files], base_counts, y_all[files], weights[files], dom_all[files],
                         replace(recipe, calibration_folds=0), say)
        base.platt = fitted.platt
    train_seconds = round(time.monotonic() - t0, 1)

    created = datetime.now(UTC).replace(microsecond=0)
    version = f"{'zh-en' if include_english else 'zh'}-linear-{created:%Y%m%d%H%M%S}"
    meta = _meta(version, created, recipe, sets, fitted, include_english, sample, n_files, len(x_texts))
    _write_artifact(out_dir, meta, fitted)
    say(f"wrote {out_dir / 'weights.npz'} and model.json (version {version})")

    # Evaluate the artifact as the daemon will load it, so the scores describe what ships.
    model = SentimentModel.load(out_dir, segmenter=seg)
    with tempfile.TemporaryDirectory(prefix="brandpulse-before-") as tmp:
        before = None
        if base is not None:
            _write_artifact(Path(tmp), {**meta, "version": version + "-before-corrections"}, base)
            before = SentimentModel.load(Path(tmp), segmenter=seg)
        dev = _dev_scores(data_dir, model, seg, include_english, sample, before, say)
        meta["dev_scores"] = dev
        if given:
            meta["corrections"] = {**_corrections_report(extra_examples, model, before, correction_weight, seg),
                                   "left_out_not_chinese": skipped}
    (out_dir / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    report = {
        "version": version,
        "out_dir": str(out_dir),
        "include_english": include_english,
        "train_rows": meta["train_rows"],
        "dev": dev,
        "corrections": meta.get("corrections"),
        "train_seconds": train_seconds,
        "calibration": {"a": fitted.platt[0], "b": fitted.platt[1]},
    }
    write_model_card(out_dir / "MODEL_CARD.md", meta, report)
    report["artifact_bytes"] = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    say(f"done in {time.monotonic() - t0:.0f}s; artifact {report['artifact_bytes'] / 1e6:.1f} MB")
    return report


def _meta(version: str, created: datetime, recipe: Recipe, sets: list[str], fitted: Any, include_english: bool,
          sample: int | None, n_files: int, n_extra: int) -> dict[str, Any]:
    cal = recipe.calibration_folds
    return {
        "format": FORMAT,
        "version": version,
        "created": created.isoformat(),
        "labels": {"0": "negative", "1": "positive"},
        "neutral_band": list(NEUTRAL_BAND),
        "features": recipe.params.to_json(),
        "classifier": {**recipe.classifier_json(), "domains": sets},
        "calibration": {
            "kind": "platt",
            "a": fitted.platt[0],
            "b": fitted.platt[1],
            "fitted_on": (f"out-of-fold decisions of {cal}-fold cross-fitting on all training rows, "
                          f"{'balanced' if recipe.calibration_balanced else 'weighted as sampled'} classes")
            if cal >= 2 else "not calibrated",
        },
        "english": {"path": "model"} if include_english else EnglishRules().to_json(),
        "training_data": {name: {"file": f"{name}.train.csv", **ATTRIBUTION[name]} for name in sets},
        "train_rows": {"fit": n_files + n_extra, "files": n_files, "corrections": n_extra},
        "sample_per_set": sample,
    }


def _write_artifact(out_dir: Path, meta: dict[str, Any], fitted: Any) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = out_dir / "weights.npz"
    idf_arrays = dict(zip(("idf_word", "idf_char", "idf_mark"), fitted.idfs, strict=False))
    np.savez_compressed(weights_path, coef=fitted.coef, intercept=np.asarray([fitted.intercept], dtype=np.float32),
                        **idf_arrays)
    meta["weights_sha256"] = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    (out_dir / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _dev_scores(data_dir: Path, model: SentimentModel, seg: Segmenter, include_english: bool, sample: int | None,
                before: SentimentModel | None, say: Progress) -> dict[str, Any]:
    dev: dict[str, Any] = {}
    for name in list(ZH_SETS) + [EN_SET]:
        path = data_dir / f"{name}.dev.csv"
        if not path.exists():
            continue
        t, y = read_csv(path, sample)
        n = [normalize(x) for x in t]
        tk = [seg.tokens(x) for x in n]
        # the daemon's own path: routing, emoji table, English rules and all
        probs = [p for p, _route in model.score_detail(n, tk, normalized=True)]
        scorer = "linear" if name != EN_SET or include_english else model.english_path
        dev[name] = {**_brief(evaluate(probs, y, model.neutral_band)), "scorer": scorer}
        if before is not None:
            old = [p for p, _route in before.score_detail(n, tk, normalized=True)]
            dev[name]["before_corrections"] = _brief(evaluate(old, y, before.neutral_band))
        if name == EN_SET and not include_english:
            plain = [vader_probability(vader_compound(x)) for x in n]
            dev[name]["plain_vader"] = _brief(evaluate(plain, y, model.neutral_band))
        say(f"dev {name}: macro-F1 {dev[name]['macro_f1']}, {dev[name]['neutral_fraction']:.1%} in the neutral "
            f"band, accuracy outside it {dev[name]['accuracy_outside_band']}")
    return dev


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("rows", "accuracy", "macro_f1", "neutral_fraction", "neutral_rows", "accuracy_outside_band")
    return {k: r[k] for k in keys}


def _corrections_report(examples: Sequence[tuple[str, str]], model: SentimentModel, before: SentimentModel | None,
                        weight: float, seg: Segmenter) -> dict[str, Any]:
    texts = [normalize(t) for t, _ in examples]
    want = [{"1": "positive", "0": "negative"}.get(str(lab).lower(), str(lab).lower()) for _, lab in examples]
    tk = [seg.tokens(t) for t in texts]

    def agree(m: SentimentModel | None) -> float | None:
        if m is None or not texts:
            return None
        got = [three_way(p, m.neutral_band) for p, _r in m.score_detail(texts, tk, normalized=True)]
        return round(sum(g == w for g, w in zip(got, want, strict=True)) / len(want), 4)

    return {
        "examples": len(examples),
        "by_label": {lab: want.count(lab) for lab in sorted(set(want))},
        "weight": weight,
        "agreement_before": agree(before),
        "agreement_after": agree(model),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nlp.train", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--include-english", action="store_true")
    ap.add_argument("--sample", type=int, default=None)
    args = ap.parse_args(argv)
    report = train(args.data_dir, args.out_dir, include_english=args.include_english, sample=args.sample,
                   progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
