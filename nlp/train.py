"""Train and evaluate the sentiment model from the shared labelled data -> artifact + report.

    report = train(Path("../shared/data/sentiment"), Path("nlp/model"))
    report["dev"]["zh_weibo"]["macro_f1"]        # 0.86...

Run by ``brandpulse train`` (or ``python -m nlp.train DATA_DIR OUT_DIR``); never imported at
runtime. One model for all Chinese domains: jieba word 1-2-grams, character 1-3-grams and
negation-scope marks, hashed, sublinear tf * idf, L2 per block, logistic regression (balanced
classes), then Platt calibration fitted on a 10% slice of the training files held out from the
fit (chosen by a hash of the text, so the split is deterministic).

Shared weights for unseen domains ("frustratingly easy domain adaptation", Daume 2007): during
the fit every row also carries a copy of its features (scaled by DOMAIN_SCALE) in a block of its
own corpus, plus an indicator column per corpus. What only one corpus believes (Weibo's
emotion labels make "我", "今天" negative; hotels are 69% positive, Weibo 28%) is cheaper to
put in that corpus's block, so the shared weights keep what holds across corpora. Only the
shared weights and intercept ship. Measured leave-one-corpus-out on train, this transfers
better than one plain fit (model card), and neutral chatter stays near p = 0.5.
Platt calibration is fitted with balanced class weights, so the Weibo majority of negatives
does not become a prior that pulls every uncertain text negative.

The shipped model uses the Chinese sets only. ``include_english=True`` adds en_airline (CC
BY-NC-SA 4.0: non-commercial, share-alike) to the same model; such a model is for local use,
its card carries the notice, and it cannot be written into the package's own nlp/model/.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from monitor.defaults import NEUTRAL_BAND
from monitor.errors import ModelError
from nlp.english import EnglishRules, vader_compound, vader_probability
from nlp.features import FeatureParams, Featurizer, idf_from_counts
from nlp.model_card import ATTRIBUTION, write_model_card
from nlp.normalize import normalize
from nlp.segment import Segmenter
from nlp.sentiment import FORMAT, SHIPPED_MODEL_DIR, SentimentModel

log = logging.getLogger(__name__)

ZH_SETS = ("zh_hotel", "zh_waimai", "zh_weibo")
EN_SET = "en_airline"
C = 4.0  # inverse regularisation strength, picked on a held-out slice of train (see MODEL_CARD)
CALIBRATION_SHARE = 10  # percent of training rows held out for Platt calibration
DOMAIN_SCALE = 0.3  # weight of the per-corpus feature copies during the fit (see the docstring)


def read_csv(path: Path, sample: int | None = None) -> tuple[list[str], list[int]]:
    """(texts, labels) from one ``label,text`` file; ``sample`` keeps a deterministic subset."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"label", "text"} <= set(reader.fieldnames):
                raise ModelError(f"expected columns 'label,text', got {reader.fieldnames!r}", path=str(path))
            rows: list[tuple[str, int]] = []
            for line, row in enumerate(reader, start=2):
                if row["label"] not in ("0", "1"):
                    raise ModelError(f"line {line}: label {row['label']!r} is not 0 or 1", path=str(path))
                rows.append((row["text"], int(row["label"])))
    except OSError as exc:
        raise ModelError(f"cannot read training data: {exc.strerror or exc}", path=str(path)) from exc
    if sample is not None and sample < len(rows):
        rows.sort(key=lambda r: hashlib.sha1(r[0].encode("utf-8")).digest())  # deterministic, label-blind
        rows = rows[:sample]
    return [r[0] for r in rows], [r[1] for r in rows]


def _evaluate(probs: Sequence[float], labels: Sequence[int], band: tuple[float, float]) -> dict[str, Any]:
    p = np.asarray(probs)
    y = np.asarray(labels)
    pred = (p > 0.5).astype(int)
    inside = (p >= band[0]) & (p <= band[1])
    outside = ~inside
    return {
        "rows": int(len(y)),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "neutral_fraction": round(float(inside.mean()), 4),
        "accuracy_outside_band": round(float((pred[outside] == y[outside]).mean()), 4) if outside.any() else None,
    }


def _platt(decision: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    # Balanced: P = 0.5 means "no evidence either way", whatever the corpora's class mix.
    lr = LogisticRegression(C=1e4, class_weight="balanced")
    lr.fit(decision.reshape(-1, 1), labels)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def fit_shared(
    X: sp.csr_matrix, y: np.ndarray, domains: np.ndarray, c: float = C, domain_scale: float = DOMAIN_SCALE
) -> tuple[np.ndarray, float]:
    """Logistic regression with per-domain feature copies; returns the shared (coef, intercept).

    ``domain_scale=0`` is one plain fit on all rows.
    """
    parts = [X]
    names = sorted(set(domains.tolist())) if domain_scale > 0 else []
    for name in names:
        member = (domains == name).astype(np.float32)
        parts.append(sp.csr_matrix(sp.diags(member * domain_scale) @ X))
        parts.append(sp.csr_matrix(member.reshape(-1, 1)))
    Xa = sp.hstack(parts, format="csr", dtype=np.float32) if names else X
    clf = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=0)
    clf.fit(Xa, y)
    return clf.coef_.ravel()[: X.shape[1]].astype(np.float32), float(clf.intercept_[0])


def train(
    data_dir: Path,
    out_dir: Path,
    *,
    include_english: bool = False,
    sample: int | None = None,
    c: float = C,
    params: FeatureParams | None = None,
) -> dict[str, Any]:
    """Train on ``data_dir/*.train.csv``, evaluate on ``*.dev.csv``, write the artifact to
    ``out_dir`` (model.json, weights.npz, MODEL_CARD.md) and return the report."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if include_english and out_dir.resolve() == SHIPPED_MODEL_DIR.resolve():
        raise ModelError(
            "refusing to write a model trained on en_airline (CC BY-NC-SA 4.0) into the "
            "shipped package directory; choose another out_dir",
            path=str(out_dir),
        )
    t0 = time.monotonic()
    params = params or FeatureParams()
    sets = list(ZH_SETS) + ([EN_SET] if include_english else [])
    seg = Segmenter(backend="jieba")  # the reference tokenizer defines the training features
    feats = Featurizer(params)

    texts: list[str] = []
    labels: list[int] = []
    domains: list[str] = []
    for name in sets:
        t, y = read_csv(data_dir / f"{name}.train.csv", sample)
        texts += t
        labels += y
        domains += [name] * len(t)
        log.info("training data loaded set=%s rows=%d", name, len(t))
    norm = [normalize(t) for t in texts]
    toks = [seg.tokens(t) for t in norm]
    y_all = np.asarray(labels)
    calib = np.array([hashlib.sha1(t.encode("utf-8")).digest()[0] % 100 < CALIBRATION_SHARE for t in norm])
    fit = ~calib

    counts = feats.counts(norm, toks)
    idfs = [idf_from_counts(block[fit]) for block in counts]
    X = feats.weigh(counts, idfs)
    coef, b0 = fit_shared(X[fit], y_all[fit], np.asarray(domains)[fit], c)
    intercept = np.asarray([b0], dtype=np.float32)
    a, b = (
        _platt(X[calib] @ coef + intercept[0], y_all[calib])
        if calib.any() and len(set(y_all[calib])) == 2
        else (1.0, 0.0)
    )
    train_seconds = round(time.monotonic() - t0, 1)

    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = out_dir / "weights.npz"
    idf_arrays: dict[str, Any] = dict(zip(("idf_word", "idf_char", "idf_mark"), idfs, strict=False))
    np.savez_compressed(weights_path, coef=coef, intercept=intercept, **idf_arrays)
    created = datetime.now(UTC).replace(microsecond=0)
    version = f"{'zh-en' if include_english else 'zh'}-linear-{created:%Y%m%d%H%M%S}"
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": version,
        "created": created.isoformat(),
        "labels": {"0": "negative", "1": "positive"},
        "neutral_band": list(NEUTRAL_BAND),
        "features": params.to_json(),
        "classifier": {
            "kind": "logistic_regression",
            "C": c,
            "class_weight": "balanced",
            "solver": "liblinear",
            "shared_weights": {"domains": sets, "domain_scale": DOMAIN_SCALE},
        },
        "calibration": {
            "kind": "platt",
            "a": a,
            "b": b,
            "fitted_on": f"{CALIBRATION_SHARE}% of train rows held out, balanced classes",
        },
        "english": {"path": "model"} if include_english else EnglishRules().to_json(),
        "training_data": {name: {"file": f"{name}.train.csv", **ATTRIBUTION[name]} for name in sets},
        "train_rows": {"fit": int(fit.sum()), "calibration": int(calib.sum())},
        "sample_per_set": sample,
        "weights_sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
    }
    (out_dir / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    # Evaluate the artifact as the daemon will load it, so the scores describe what ships.
    model = SentimentModel.load(out_dir, segmenter=seg)
    dev: dict[str, Any] = {}
    for name in list(ZH_SETS) + [EN_SET]:
        path = data_dir / f"{name}.dev.csv"
        if not path.exists():
            continue
        t, y = read_csv(path, sample)
        n = [normalize(x) for x in t]
        # the daemon's own path: routing, emoji table, English rules and all
        probs = [p for p, _route in model.score_detail(n, [seg.tokens(x) for x in n])]
        scorer = "linear" if name != EN_SET or include_english else str(meta["english"]["path"])
        dev[name] = {**_evaluate(probs, y, model.neutral_band), "scorer": scorer}
        if name == EN_SET and not include_english:
            plain = [vader_probability(vader_compound(x)) for x in n]
            dev[name]["plain_vader"] = _evaluate(plain, y, model.neutral_band)
        log.info("dev scores set=%s %s", name, dev[name])
    meta["dev_scores"] = dev
    (out_dir / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    report = {
        "version": version,
        "out_dir": str(out_dir),
        "include_english": include_english,
        "train_rows": meta["train_rows"],
        "dev": dev,
        "artifact_bytes": size,
        "train_seconds": train_seconds,
        "calibration": {"a": a, "b": b},
    }
    write_model_card(out_dir / "MODEL_CARD.md", meta, report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nlp.train", description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--include-english", action="store_true")
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--c", type=float, default=C)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    report = train(args.data_dir, args.out_dir, include_english=args.include_english, sample=args.sample, c=args.c)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
