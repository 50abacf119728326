"""Explanations of the shipped model: exact (they add up to the score) and named in words."""

from __future__ import annotations

import math

import pytest

from nlp.explain import drivers, explain
from nlp.normalize import normalize
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.mark.parametrize(
    "text",
    [
        "阿克米咖啡太难喝了，又贵又慢，再也不去了",  # Chinese model
        "這家店的服務很好，下次還來",  # Traditional: read as Simplified
        "小米 👍👍 音质真不错",  # + emoji table
        "华为 phone is terrible, 客服也不理人",  # + VADER on the English words
        "@ACME 3 hours on hold and still no refund",  # English path: VADER + cues
        "Love the new ACME blend, thanks!",
        "😡😡",  # emoji table alone
        "明天下午三点开会",
    ],
)
def test_contributions_add_up_to_the_score(shipped_model: SentimentModel, text: str) -> None:
    [(p, route)] = shipped_model.score_detail([text])
    e = shipped_model.explain(text)
    assert e.route == route
    assert e.probability == pytest.approx(p, abs=1e-6)
    assert e.bias + sum(c.weight for c in e.contributions) == pytest.approx(_logit(p), abs=1e-4)
    if route == "zh":  # the per-word totals share out the same logit (minus the bias)
        assert sum(w for _t, w in e.terms) == pytest.approx(_logit(p) - e.bias, abs=1e-4)
    assert e.label == shipped_model.to_sentiment(p).label.value
    assert [abs(c.weight) for c in e.contributions] == sorted((abs(c.weight) for c in e.contributions),
                                                              reverse=True)


def test_terms_name_the_words_that_decided(shipped_model: SentimentModel, segmenter: Segmenter) -> None:
    text = normalize("阿克米咖啡的拿铁太难喝了，店员态度也很差")
    e = explain(shipped_model, text, segmenter.tokens(text), normalized=True)
    assert e.label == "negative"
    negative = [t for t, _w in e.top_terms(4, "negative")]
    assert "差" in negative or "很差" in negative
    assert any("难" in t for t in negative), negative  # jieba cuts 拿铁太难喝 oddly; the term holds 难
    assert all(w < 0 for _t, w in e.top_terms(5, "negative"))
    assert all(w > 0 for _t, w in e.top_terms(5, "positive"))
    kinds = {c.kind for c in e.contributions}
    assert {"word", "char"} <= kinds
    # the terms are the text's tokens, in order
    assert [t for t, _w in e.terms] == segmenter.tokens(e.text)


def test_negation_marks_are_named(shipped_model: SentimentModel) -> None:
    e = shipped_model.explain("这家的菜一点也不好吃")
    assert any(c.kind == "mark" and c.feature.startswith("NEG_") for c in e.contributions)


def test_english_and_emoji_explanations(shipped_model: SentimentModel) -> None:
    e = shipped_model.explain("@ACME 3 hours on hold and still no refund")
    assert e.route == "en" and e.bias == 0.0
    cues = [c.feature for c in e.contributions if c.kind == "cue"]
    assert cues == ["hours", "on hold", "still"]  # at most max_cues (3) count
    e = shipped_model.explain("😡😡 👍")
    assert {c.feature: round(c.weight, 3) for c in e.contributions} == {"😡 x2": -6.0, "👍": 1.5}
    mixed = shipped_model.explain("华为 phone is terrible")
    assert any(c.kind == "english" and "terrible" in c.feature for c in mixed.contributions)
    assert ("phone is terrible", pytest.approx(mixed.top(1)[0].weight)) in [(t, w) for t, w in mixed.terms]


def test_json_shape(shipped_model: SentimentModel) -> None:
    d = shipped_model.explain("送餐太慢了，饭都凉了").to_json(top=3)
    assert set(d) == {"text", "route", "probability", "label", "model_version", "bias", "logit", "contributions",
                      "terms"}
    assert len(d["contributions"]) == 3 and set(d["contributions"][0]) == {"kind", "feature", "weight"}
    assert d["model_version"] == shipped_model.version


def test_drivers_of_many_negative_texts(shipped_model: SentimentModel) -> None:
    texts = ["阿克米咖啡又洒了，太差了", "阿克米外卖洒了一袋子，差评", "咖啡洒了，客服也不理人，差劲"]
    top = drivers(shipped_model, texts, k=5)
    assert len(top) == 5 and all(w < 0 for _t, w, _n in top)
    by_term = {t: n for t, _w, n in top}
    assert any(t.startswith("差") for t in by_term), top
    assert max(by_term.values()) >= 2  # a term shared by several texts is summed over them
