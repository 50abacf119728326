"""SentimentModel: load the artifact (JSON + npz, never pickle) and score texts in batches.

    model = SentimentModel.load()                       # the shipped artifact in nlp/model/
    model = SentimentModel.load(Path("my-model"), neutral_band=(0.35, 0.65))
    model.score(["阿克米的拿铁太难喝了", "Love the new ACME blend!", "👍"])
    # [Sentiment(NEGATIVE, 0.03, 'zh-linear-...'), Sentiment(POSITIVE, 0.93, ...), ...]

Artifact layout (a directory):
  model.json   format, version, created, feature parameters, labels, neutral band, calibration,
               English path, training-data attribution, dev scores, sha256 of weights.npz
  weights.npz  coef (word block, char block, then the negation-mark block in format 2),
               intercept, idf_word, idf_char[, idf_mark] (float32), read with
               ``numpy.load(allow_pickle=False)``

Scoring re-implements the linear model from those arrays: hashed features -> sublinear tf * idf
-> L2 per block -> ``coef . x + intercept`` -> Platt calibration ``sigmoid(a*d + b)``.
Format 1 (two blocks, plain VADER for English) still loads.

Language routing (``nlp.features.route``; documented for users in the model card):

- any Chinese character -> the Chinese linear model. Its logit gets two additions: the emoji
  table's polarity (nlp.features; "小米 👍👍"), and for a post that mixes in English words
  ("华为 phone is terrible"), VADER's reading of the Latin words alone (``english_logit``;
  brand names and plain words carry no VADER valence, so "ACME Coffee 的外卖又洒了" is
  unchanged). The addition is skipped when the artifact was trained with English data;
- Latin letters and no Chinese -> VADER plus complaint rules (nlp.english; a text with no
  sentiment words and no complaint cue is exactly 0.5), unless the artifact was trained with
  English data, then English uses the linear model too;
- neither (emoji, emoticons, punctuation: "😡😡", ":(") -> the emoji table alone; nothing known
  -> 0.5. Short texts get no special case: "垃圾服务!!!" is negative from its n-grams.

``explain(text)`` (nlp.explain) splits one score into the contributions of its features.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.defaults import NEUTRAL_BAND, SCORE_BATCH
from monitor.errors import ModelError
from monitor.models import Sentiment, SentimentLabel
from nlp.english import EnglishRules, vader_probability  # noqa: F401  (re-exported: bench, tests)
from nlp.features import (
    EMOJI_SLOPE,
    EN,
    SYMBOL,
    ZH,
    FeatureParams,
    Featurizer,
    emoji_probability,
    emoji_total,
    route,
    sigmoid,
)
from nlp.normalize import normalize
from nlp.segment import Segmenter

if TYPE_CHECKING:
    from nlp.explain import Explanation

log = logging.getLogger(__name__)

SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "model"
FORMAT = "brandpulse-sentiment/3"
# 1: word + char blocks, plain VADER for English; 2: + negation-mark block; 3: + mark kinds
FORMATS = ("brandpulse-sentiment/1", "brandpulse-sentiment/2", FORMAT)
_ARRAYS = ("coef", "intercept", "idf_word", "idf_char")
_IDF_NAMES = ("idf_word", "idf_char", "idf_mark")  # one per feature block, in coef order


def label_for(p: float, band: tuple[float, float]) -> SentimentLabel:
    """NEUTRAL inside the band (bounds included), else POSITIVE above it and NEGATIVE below."""
    if band[0] <= p <= band[1]:
        return SentimentLabel.NEUTRAL
    return SentimentLabel.POSITIVE if p > band[1] else SentimentLabel.NEGATIVE


class SentimentModel:
    """A loaded sentiment artifact. Build it with :meth:`load`; ``score`` is thread-safe."""

    def __init__(
        self,
        *,
        path: Path,
        meta: dict[str, Any],
        arrays: dict[str, np.ndarray],
        neutral_band: tuple[float, float],
        segmenter: Segmenter | None = None,
    ) -> None:
        self.path = path
        self.meta = meta
        self.version: str = str(meta["version"])
        self.params = FeatureParams.from_json(meta["features"])
        self.featurizer = Featurizer(self.params)
        self.coef = arrays["coef"].astype(np.float32).ravel()
        self.intercept = float(arrays["intercept"].ravel()[0])
        n_blocks = len(self.params.block_sizes)
        self.idfs = [arrays[name].astype(np.float32).ravel() for name in _IDF_NAMES[:n_blocks]]
        self.idf_word, self.idf_char = self.idfs[0], self.idfs[1]
        cal = meta.get("calibration") or {"kind": "none"}
        self.cal_a, self.cal_b = (float(cal["a"]), float(cal["b"])) if cal.get("kind") == "platt" else (1.0, 0.0)
        english = meta.get("english", {"path": "vader"})
        self.english_path: str = str(english.get("path", "vader"))
        self.english = EnglishRules.from_json(english)
        lo, hi = neutral_band
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"neutral_band must satisfy 0 <= low <= high <= 1, got {neutral_band!r}")
        self.neutral_band = (float(lo), float(hi))
        self._segmenter = segmenter
        self._seg_lock = threading.Lock()

    # --- loading ---

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        *,
        neutral_band: tuple[float, float] | None = None,
        segmenter: Segmenter | None = None,
    ) -> SentimentModel:
        """Load an artifact directory (None: the shipped one). Raises ModelError naming the path.

        ``neutral_band`` overrides the band stored in model.json (default NEUTRAL_BAND).
        ``segmenter`` tokenises texts when ``score`` is called without tokens.
        """
        root = Path(path) if path is not None else SHIPPED_MODEL_DIR
        meta_path, weights_path = root / "model.json", root / "weights.npz"
        try:
            raw = meta_path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read model metadata: {exc.strerror or exc}", path=str(meta_path)) from exc
        try:
            meta = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"model.json is not valid JSON: {exc}", path=str(meta_path)) from exc
        if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
            got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise ModelError(f"unsupported model format {got!r}, expected one of {FORMATS!r}", path=str(meta_path))
        try:
            blob = weights_path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read model weights: {exc.strerror or exc}", path=str(weights_path)) from exc
        want = meta.get("weights_sha256")
        if want and hashlib.sha256(blob).hexdigest() != want:
            raise ModelError(
                "weights.npz does not match the sha256 in model.json (corrupt or replaced)",
                path=str(weights_path),
            )
        arrays = _read_arrays(weights_path, _needed_arrays(meta))
        try:
            band = neutral_band or tuple(meta.get("neutral_band", NEUTRAL_BAND))
            model = cls(path=root, meta=meta, arrays=arrays, neutral_band=band, segmenter=segmenter)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelError(f"model.json is incomplete or inconsistent: {exc!r}", path=str(meta_path)) from exc
        model._check_shapes(weights_path)
        log.info("sentiment model loaded path=%s version=%s english=%s", root, model.version, model.english_path)
        return model

    def _check_shapes(self, weights_path: Path) -> None:
        p = self.params
        expected = {"coef": p.n_features, **dict(zip(_IDF_NAMES, p.block_sizes, strict=False))}
        actual = {"coef": self.coef.size, **{name: idf.size for name, idf in zip(_IDF_NAMES, self.idfs, strict=False)}}
        for name, size in expected.items():
            if actual[name] != size:
                raise ModelError(
                    f"array {name!r} has {actual[name]} values, model.json says {size}",
                    path=str(weights_path),
                )
        if not (np.isfinite(self.coef).all() and math.isfinite(self.intercept)):
            raise ModelError("weights contain NaN or infinity", path=str(weights_path))

    # --- scoring ---

    def score(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> list[Sentiment]:
        """Score normalised texts (``tokens``: their Segmenter tokens, computed when None)."""
        return [self.to_sentiment(p) for p, _lang in self.score_detail(texts, tokens)]

    def score_detail(
        self,
        texts: Sequence[str],
        tokens: Sequence[Sequence[str]] | None = None,
        *,
        normalized: bool = False,
    ) -> list[tuple[float, str]]:
        """(P(positive), route) per text: route is "zh", "en" or "symbol".

        Each text is read as ``normalize(text)``. ``normalized=True`` says the caller already
        did that (TextProcessor passes ``TextForms.scoring_text()``), so it is not redone.
        """
        if tokens is not None and len(tokens) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(tokens)} token lists")
        texts = list(texts) if normalized else [normalize(t) for t in texts]
        routes = [route(t) for t in texts]
        probs = [0.5] * len(texts)
        linear = [i for i, r in enumerate(routes) if r == ZH or (r == EN and self.english_path == "model")]
        for i, r in enumerate(routes):
            if r == SYMBOL:
                probs[i] = emoji_probability(texts[i])
            elif r == EN and self.english_path != "model":
                probs[i] = self.english.probability(texts[i])
        for start in range(0, len(linear), SCORE_BATCH):
            idx = linear[start : start + SCORE_BATCH]
            batch = [texts[i] for i in idx]
            toks = [tokens[i] for i in idx] if tokens is not None else [self._tokens(t) for t in batch]
            for i, z in zip(idx, self.logits(batch, toks), strict=True):
                probs[i] = sigmoid(float(z) + self.extra_logit(texts[i]))
        return list(zip(probs, routes, strict=True))

    def extra_logit(self, text: str) -> float:
        """What the linear model's logit gets on top for a text it scores (module docstring):
        the emoji table's polarity, and VADER on the English words of a mixed Chinese post."""
        z = EMOJI_SLOPE * emoji_total(text)
        if self.english_path != "model":
            z += self.english.mixed_logit(text)
        return z

    def logits(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray:
        """Calibrated logit ``a * (coef . x + intercept) + b`` of the linear model per text."""
        if not texts:
            return np.zeros(0)
        X = self.featurizer.weigh(self.featurizer.counts(texts, tokens), self.idfs)
        d = X @ self.coef + self.intercept
        return self.cal_a * np.asarray(d, dtype=np.float64) + self.cal_b

    def probabilities(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> list[float]:
        """Calibrated P(positive) from the linear model alone, for every text regardless of route."""
        z = self.logits(texts, tokens)
        return [float(v) for v in 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))]

    def explain(self, text: str, tokens: Sequence[str] | None = None, *, normalized: bool = False) -> Explanation:
        """Why ``text`` scored what it did: the contribution of each feature (nlp.explain)."""
        from nlp.explain import explain

        return explain(self, text, tokens, normalized=normalized)

    def to_sentiment(self, p: float) -> Sentiment:
        return Sentiment(label=label_for(p, self.neutral_band), score=round(p, 6), model_version=self.version)

    def _tokens(self, text: str) -> list[str]:
        if self._segmenter is None:
            with self._seg_lock:
                if self._segmenter is None:
                    self._segmenter = Segmenter()
        return self._segmenter.tokens(text)


def _needed_arrays(meta: dict[str, Any]) -> tuple[str, ...]:
    features = meta.get("features")
    if isinstance(features, dict) and features.get("mark_n_features"):
        return (*_ARRAYS, "idf_mark")
    return _ARRAYS


def _read_arrays(weights_path: Path, names: Sequence[str] = _ARRAYS) -> dict[str, np.ndarray]:
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            missing = [n for n in names if n not in npz.files]
            if missing:
                raise ModelError(f"weights.npz lacks arrays {missing!r}", path=str(weights_path))
            arrays = {n: np.asarray(npz[n]) for n in names}
    except ModelError:
        raise
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        zipfile.BadZipFile,
    ) as exc:  # includes "Object arrays cannot be loaded"
        raise ModelError(f"cannot read weights.npz: {exc}", path=str(weights_path)) from exc
    for name, arr in arrays.items():
        if arr.dtype.kind != "f":
            raise ModelError(f"array {name!r} has dtype {arr.dtype}, expected float", path=str(weights_path))
    return arrays
