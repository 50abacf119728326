from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import ModelError
from monitor.models import SentimentLabel
from nlp.segment import Segmenter
from nlp.sentiment import SHIPPED_MODEL_DIR, SentimentModel
from nlp.train import expand_examples, train

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment"
needs_data = pytest.mark.skipif(not (DATA / "zh_weibo.train.csv").exists(), reason=f"{DATA} absent")


@needs_data
@pytest.mark.slow
def test_train_small_sample_and_load(tmp_path: Path, segmenter: Segmenter) -> None:
    out = tmp_path / "model"
    said: list[str] = []
    report = train(DATA, out, sample=300, progress=said.append)
    assert set(report["dev"]) == {"zh_hotel", "zh_waimai", "zh_weibo", "en_airline"}
    for name in ("zh_hotel", "zh_waimai", "zh_weibo"):
        s = report["dev"][name]
        assert s["scorer"] == "linear" and s["rows"] == 300
        assert 0.6 < s["accuracy"] <= 1.0 and 0.0 <= s["neutral_fraction"] <= 1.0
    assert report["dev"]["en_airline"]["scorer"] == "vader-rules"
    assert set(report["dev"]["en_airline"]["plain_vader"]) >= {"macro_f1", "neutral_fraction"}
    meta = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert meta["dev_scores"] == report["dev"] and meta["sample_per_set"] == 300
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "ChnSentiCorp" in card and "VADER" in card and "CC BY-NC-SA" in card
    with np.load(out / "weights.npz", allow_pickle=False) as npz:
        f = meta["features"]
        assert npz["coef"].shape == (f["word_n_features"] + f["char_n_features"] + f["mark_n_features"],)
        assert npz["idf_mark"].shape == (f["mark_n_features"],)
    assert meta["classifier"]["domains"] == ["zh_hotel", "zh_waimai", "zh_weibo"]
    assert meta["classifier"]["domain_scale"] == 0.3 and meta["classifier"]["class_weight"] == "balanced"
    assert meta["train_rows"] == {"fit": 900, "files": 900, "corrections": 0}
    assert meta["calibration"]["kind"] == "platt" and "5-fold" in meta["calibration"]["fitted_on"]
    assert meta["features"]["mark_kinds"] == ["negation"]
    assert meta["weights_sha256"] == hashlib.sha256((out / "weights.npz").read_bytes()).hexdigest()
    model = SentimentModel.load(out, segmenter=segmenter)
    assert model.version == report["version"]
    assert model.score(["送餐太慢了，饭都凉了，差评"])[0].label is SentimentLabel.NEGATIVE
    phases = " | ".join(said)
    for step in ("read zh_hotel.train.csv: 300 rows", "tokenised 900/900 texts", "calibration fold 5/5",
                 "final fit on 900 rows", "dev zh_weibo: macro-F1", "done in"):
        assert step in phases, step
    for name in ("zh_hotel", "zh_waimai", "zh_weibo"):
        assert report["dev"][name]["neutral_rows"] == round(report["dev"][name]["neutral_fraction"] * 300)


@needs_data
@pytest.mark.slow
def test_train_with_english_carries_the_licence_notice(tmp_path: Path, segmenter: Segmenter) -> None:
    out = tmp_path / "model-en"
    report = train(DATA, out, include_english=True, sample=200)
    assert report["dev"]["en_airline"]["scorer"] == "linear"
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "CC BY-NC-SA 4.0" in card and "non-commercial" in card
    model = SentimentModel.load(out, segmenter=segmenter)
    assert model.english_path == "model"


@needs_data
@pytest.mark.slow
def test_extra_examples_join_the_fit_and_are_reported(tmp_path: Path, segmenter: Segmenter) -> None:
    # Texts the 300-row sample gets wrong or has never seen, relabelled by an "analyst".
    extra = [("阿克米咖啡的新品一般般，没什么特别", "negative"), ("阿克米的杯子是纸做的", "neutral"),
             ("阿克米咖啡的店员记得我的名字", "positive"), ("Love ACME", "positive")]
    out = tmp_path / "corrected"
    report = train(DATA, out, sample=300, extra_examples=extra, correction_weight=8.0)
    corr = report["corrections"]
    # the English one is left out: English is scored by the VADER rules, not the trained model
    assert corr["examples"] == 3 and corr["left_out_not_chinese"] == 1 and corr["weight"] == 8.0
    assert corr["by_label"] == {"negative": 1, "neutral": 1, "positive": 1}
    assert corr["agreement_after"] >= corr["agreement_before"]
    meta = json.loads((out / "model.json").read_text(encoding="utf-8"))
    # three corrections -> four rows (neutral is half a positive and half a negative row)
    assert meta["train_rows"] == {"fit": 904, "files": 900, "corrections": 4}
    for name in ("zh_hotel", "zh_waimai", "zh_weibo"):
        before = report["dev"][name]["before_corrections"]
        assert before["rows"] == 300 and 0.5 < before["macro_f1"] <= 1.0
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Analyst corrections" in card and "without the corrections" in card
    assert not list(out.glob(".before*")) and sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md", "model.json", "weights.npz"]
    model = SentimentModel.load(out, segmenter=segmenter)
    [neg, neu, pos, _en] = model.score([t for t, _l in extra])
    assert neg.score < 0.5 < pos.score
    assert abs(neu.score - 0.5) < 0.25


def test_expand_examples() -> None:
    texts, labels, weights = expand_examples([("好", "positive"), ("中", "Neutral"), ("差", "0")], 4.0)
    assert (texts, labels, weights) == (["好", "中", "中", "差"], [1, 1, 0, 0], [4.0, 2.0, 2.0, 4.0])
    with pytest.raises(ModelError, match="'great' is not positive, negative or neutral"):
        expand_examples([("好", "great")], 1.0)


def test_english_model_never_written_into_the_package(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="CC BY-NC-SA"):
        train(tmp_path, SHIPPED_MODEL_DIR, include_english=True)


def test_bad_training_file(tmp_path: Path) -> None:
    (tmp_path / "zh_hotel.train.csv").write_text("label,text\n2,不错\n", encoding="utf-8")
    with pytest.raises(ModelError, match="line 2"):
        train(tmp_path, tmp_path / "out")
    (tmp_path / "zh_hotel.train.csv").write_text("score,body\n1,好\n", encoding="utf-8")
    with pytest.raises(ModelError, match="'label' and 'text' columns"):
        train(tmp_path, tmp_path / "out")
