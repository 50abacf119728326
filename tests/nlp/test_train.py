from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import ModelError
from monitor.models import SentimentLabel
from nlp.segment import Segmenter
from nlp.sentiment import SHIPPED_MODEL_DIR, SentimentModel
from nlp.train import train

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment"
needs_data = pytest.mark.skipif(not (DATA / "zh_weibo.train.csv").exists(), reason=f"{DATA} absent")


@needs_data
@pytest.mark.slow
def test_train_small_sample_and_load(tmp_path: Path, segmenter: Segmenter) -> None:
    out = tmp_path / "model"
    report = train(DATA, out, sample=300)
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
    assert meta["classifier"]["shared_weights"]["domains"] == ["zh_hotel", "zh_waimai", "zh_weibo"]
    model = SentimentModel.load(out, segmenter=segmenter)
    assert model.version == report["version"]
    assert model.score(["送餐太慢了，饭都凉了，差评"])[0].label is SentimentLabel.NEGATIVE


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


def test_english_model_never_written_into_the_package(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="CC BY-NC-SA"):
        train(tmp_path, SHIPPED_MODEL_DIR, include_english=True)


def test_bad_training_file(tmp_path: Path) -> None:
    (tmp_path / "zh_hotel.train.csv").write_text("label,text\n2,不错\n", encoding="utf-8")
    with pytest.raises(ModelError, match="line 2"):
        train(tmp_path, tmp_path / "out")
    (tmp_path / "zh_hotel.train.csv").write_text("score,body\n1,好\n", encoding="utf-8")
    with pytest.raises(ModelError, match="columns"):
        train(tmp_path, tmp_path / "out")
