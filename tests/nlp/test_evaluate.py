"""Labelled CSV reading and the reported figures (binary and three-class)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ModelError
from nlp.evaluate import evaluate, read_labelled_csv, three_way


def test_read_labelled_csv_any_label_spelling_extra_columns_and_bom(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text("\ufeffid,label,text,source\n1,1,好吃,a\n2,0,难吃,b\n3,Positive,推荐,c\n4,NEUTRAL,开会,d\n"
                 "5, negative ,差评,e\n", encoding="utf-8")
    texts, labels = read_labelled_csv(f)
    assert texts == ["好吃", "难吃", "推荐", "开会", "差评"]
    assert labels == ["positive", "negative", "positive", "neutral", "negative"]
    with pytest.raises(ModelError, match=r"mine.csv.*line 5: label 'NEUTRAL' is not 0 or 1"):
        read_labelled_csv(f, binary_only=True)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("score,body\n1,好\n", "header with 'label' and 'text'"),
        ("label,text\nmaybe,好\n", "line 2: label 'maybe'"),
        ("", "header"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, content: str, problem: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match=problem) as err:
        read_labelled_csv(f)
    assert "bad.csv" in str(err.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        read_labelled_csv(tmp_path / "absent.csv")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("label,text\n1,好吃\n".encode("gbk"))
    with pytest.raises(ModelError, match="UTF-8"):
        read_labelled_csv(gbk)


def test_three_way_band_bounds_are_neutral() -> None:
    band = (0.4, 0.6)
    assert [three_way(p, band) for p in (0.1, 0.4, 0.5, 0.6, 0.61)] == [
        "negative", "neutral", "neutral", "neutral", "positive"]


def test_evaluate_binary_and_three_class_figures() -> None:
    probs = [0.9, 0.8, 0.55, 0.2, 0.1, 0.45, 0.7, 0.5]
    labels = [1, "positive", 1, 0, "negative", "negative", 0, "neutral"]
    r = evaluate(probs, labels, (0.4, 0.6))
    # binary rows: 7 (the neutral one left out); P > 0.5 right for 5 of them (0.45 neg right, 0.7 neg wrong,
    # 0.55 pos right)
    assert r["rows"] == 8 and r["accuracy"] == pytest.approx(6 / 7, abs=1e-4)
    assert r["neutral_rows"] == 3 and r["neutral_fraction"] == pytest.approx(3 / 8)
    # outside the band: 0.9, 0.8 (pos ok), 0.2, 0.1 (neg ok), 0.7 (neg, predicted positive)
    assert r["accuracy_outside_band"] == pytest.approx(4 / 5)
    assert r["confusion"]["positive"] == {"negative": 0, "neutral": 1, "positive": 2}
    assert r["confusion"]["negative"] == {"negative": 2, "neutral": 1, "positive": 1}
    assert r["confusion"]["neutral"] == {"negative": 0, "neutral": 1, "positive": 0}
    assert r["per_class"]["neutral"] == {"precision": pytest.approx(1 / 3, abs=1e-4), "recall": 1.0,
                                         "f1": pytest.approx(0.5), "support": 1}
    assert r["per_class"]["positive"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    with pytest.raises(ValueError, match="2 probabilities but 1 labels"):
        evaluate([0.1, 0.2], [1], (0.4, 0.6))
