"""Labelled CSV files and the figures reported on them (train, eval, bench, the model card).

    texts, labels = read_labelled_csv(Path("mine.csv"))       # labels: "positive"/"negative"/"neutral"
    report = evaluate(probs, labels, band=(0.4, 0.6))
    report["macro_f1"], report["confusion"]

A labelled CSV has a header with at least ``label`` and ``text`` columns (others are ignored);
a label is ``1``/``0`` or ``positive``/``negative``/``neutral`` (any case). The binary figures
(accuracy, macro-F1) are over the rows labelled positive or negative, decided at P > 0.5, as
the training data has no neutral class; the three-class figures use the neutral band, so a
file with neutral rows is measured too.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from monitor.errors import ModelError

POSITIVE, NEGATIVE, NEUTRAL = "positive", "negative", "neutral"
CLASSES = (NEGATIVE, NEUTRAL, POSITIVE)
_LABELS = {"1": POSITIVE, "0": NEGATIVE, POSITIVE: POSITIVE, NEGATIVE: NEGATIVE, NEUTRAL: NEUTRAL}


def read_labelled_csv(path: Path, *, binary_only: bool = False) -> tuple[list[str], list[str]]:
    """(texts, labels) of a labelled CSV; raises ModelError naming the file and line."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"label", "text"} <= set(reader.fieldnames):
                raise ModelError(f"expected a header with 'label' and 'text' columns, got {reader.fieldnames!r}",
                                 path=str(path))
            texts: list[str] = []
            labels: list[str] = []
            for line, row in enumerate(reader, start=2):
                raw = (row["label"] or "").strip().lower()
                label = _LABELS.get(raw)
                if label is None or (binary_only and label == NEUTRAL):
                    allowed = "0 or 1" if binary_only else "1, 0, positive, negative or neutral"
                    raise ModelError(f"line {line}: label {row['label']!r} is not {allowed}", path=str(path))
                texts.append(row["text"] or "")
                labels.append(label)
    except OSError as exc:
        raise ModelError(f"cannot read labelled data: {exc.strerror or exc}", path=str(path)) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ModelError(f"not a UTF-8 CSV file: {exc}", path=str(path)) from exc
    return texts, labels


def three_way(p: float, band: tuple[float, float]) -> str:
    """The user-facing class of P(positive): neutral inside the band (bounds included)."""
    if band[0] <= p <= band[1]:
        return NEUTRAL
    return POSITIVE if p > band[1] else NEGATIVE


def evaluate(probs: Sequence[float], labels: Sequence[str | int], band: tuple[float, float]) -> dict[str, Any]:
    """Binary and three-class figures of P(positive) against labels (see the module docstring).

    ``labels`` may be 1/0 or the class names. Keys: rows, accuracy, macro_f1 (binary rows, P > 0.5),
    neutral_fraction (rows inside the band), accuracy_outside_band (binary rows outside it),
    per_class precision/recall/f1 and confusion[true][predicted] over the three classes.
    """
    p = np.asarray(probs, dtype=np.float64)
    names = [_LABELS[str(v).lower()] for v in labels]
    if len(names) != len(p):
        raise ValueError(f"{len(p)} probabilities but {len(names)} labels")
    y = np.asarray(names)
    binary = y != NEUTRAL
    yb = (y[binary] == POSITIVE).astype(int)
    pred_b = (p[binary] > 0.5).astype(int)
    inside = (p >= band[0]) & (p <= band[1])
    out_b = binary & ~inside
    three = np.asarray([three_way(v, band) for v in p.tolist()])
    confusion = {t: {q: int(((y == t) & (three == q)).sum()) for q in CLASSES} for t in CLASSES}
    per_class: dict[str, dict[str, float | None]] = {}
    for c in CLASSES:
        tp = confusion[c][c]
        predicted = sum(confusion[t][c] for t in CLASSES)
        actual = sum(confusion[c].values())
        prec = tp / predicted if predicted else None
        rec = tp / actual if actual else None
        f1 = 2 * prec * rec / (prec + rec) if prec and rec else (0.0 if actual else None)
        per_class[c] = {"precision": _r(prec), "recall": _r(rec), "f1": _r(f1), "support": actual}
    both = binary.any() and len(set(yb.tolist())) == 2
    return {
        "rows": int(len(p)),
        "accuracy": _r(float(accuracy_score(yb, pred_b))) if binary.any() else None,
        "macro_f1": _r(float(f1_score(yb, pred_b, average="macro"))) if both else None,
        "neutral_fraction": _r(float(inside.mean())) if len(p) else None,
        "neutral_rows": int(inside.sum()),
        "accuracy_outside_band": _r(float((three[out_b] == y[out_b]).mean())) if out_b.any() else None,
        "per_class": per_class,
        "confusion": confusion,
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)
