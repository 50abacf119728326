from __future__ import annotations

import csv
import time
from pathlib import Path

import opencc
import pytest

from nlp.normalize import (
    _T2S,
    TextForms,
    clean,
    is_repost_only,
    normalize,
    split_repost,
    strip_repost_chain,
    to_simplified,
)


def test_html_stripped_and_entities_unescaped() -> None:
    assert normalize("<p>阿克米<b>咖啡</b> &amp; 甜点</p><script>var x=1</script>") == "阿克米 咖啡 & 甜点"
    # an escaped tag is text, not markup
    assert normalize("&lt;b&gt;不错") == "<b>不错"


def test_full_width_folded_to_half_width() -> None:
    assert normalize("ＡＣＭＥ　Ｃｏｆｆｅｅ１２３！") == "ACME Coffee123!"


def test_urls_removed_and_mentions_keep_the_name() -> None:
    assert normalize("看这里 https://t.cn/A6xyz?x=1 和 www.example.com/a 好") == "看这里 和 好"
    assert normalize("@阿克米咖啡 你们的外卖又晚了") == "阿克米咖啡 你们的外卖又晚了"
    assert normalize("mail me at bob@example.com") == "mail me at bob@example.com"


def test_whitespace_collapsed_and_zero_width_removed() -> None:
    assert normalize("  太\u200b好\n\n喝\t了  ") == "太好 喝 了"


def test_traditional_converted_to_simplified() -> None:
    assert normalize("華為手機的售後服務") == "华为手机的售后服务"
    assert to_simplified("阿克米咖啡") == "阿克米咖啡"


def test_simplified_fast_path_is_cheap() -> None:
    text = "阿克米咖啡的外卖送得很快，味道也不错，下次还会再点" * 4
    to_simplified("華")  # load the dictionaries once
    start = time.perf_counter()
    for _ in range(2000):
        assert to_simplified(text) == text
    assert time.perf_counter() - start < 0.5  # a set test, not an OpenCC pass per call


def test_empty_input() -> None:
    assert normalize("") == ""
    assert normalize("   <br/>  ") == ""


@pytest.mark.parametrize(
    "text",
    [
        "转发微博",
        "Repost",
        "转发微博//@小王: 阿克米咖啡太难喝了",
        "//@小王: 阿克米太难喝//@老李:同意",
        "RT @bob: ACME coffee is cold again",
        "轉發微博",
        "  转发微博 ！",
    ],
)
def test_bare_reposts_detected(text: str) -> None:
    assert is_repost_only(text)


@pytest.mark.parametrize(
    "text",
    [
        "同感//@小王: 阿克米咖啡太难喝了",
        "Totally agree RT @bob: ACME coffee is cold",
        "阿克米咖啡今天排队很长",
        "转发微博的人太多了，阿克米这次真的翻车",
        "",
    ],
)
def test_reposts_with_own_words_kept(text: str) -> None:
    assert not is_repost_only(text)


def test_strip_and_split_repost_chain() -> None:
    text = "同感//@小王: 我也是//@老李：阿克米咖啡的冰美式是温的"
    assert strip_repost_chain(text) == "同感"
    own, chain = split_repost(text)
    assert own == "同感"
    assert chain == ["我也是", "阿克米咖啡的冰美式是温的"]
    assert strip_repost_chain("没有转发链") == "没有转发链"


def test_clean_keeps_at_signs_for_repost_detection() -> None:
    assert clean("／／＠小王：好") == "//@小王:好"


# --- the Traditional-character pre-check and TextForms ---

SHARED_SENTIMENT = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment"


def test_simplified_text_is_returned_without_conversion() -> None:
    # 一 上 不 大 小 回 有 得 occur in t2s dictionary keys but never change: no OpenCC pass.
    text = "一上不大小回有得，阿克米咖啡的拿铁真不错，第3次回购了"
    assert to_simplified(text) is text
    assert to_simplified("ACME coffee 👍") == "ACME coffee 👍"


def test_traditional_text_is_still_converted() -> None:
    assert to_simplified("華為手機的售後服務很好") == "华为手机的售后服务很好"
    # Phrase-only conversions: each of these characters alone maps to itself.
    assert to_simplified("收到回覆") == "收到回复"
    assert to_simplified("我瞭解了") == "我了解了"
    assert to_simplified("衹得等") == "只得等"
    assert to_simplified("沈默") == "沉默"


def test_pre_check_covers_every_changing_dictionary_entry() -> None:
    converter = opencc.OpenCC("t2s")
    triggers = _T2S.triggers()
    changing = [
        key
        for _max_len, _min_len, mapping in converter.dict_cache.values()
        for key, value in mapping.items()
        if value.split(" ")[0] != key
    ]
    assert len(changing) > 4000
    assert [key for key in changing if triggers.isdisjoint(key)] == []
    # Common Simplified characters that only appear in phrase keys stay out of the set.
    assert not triggers & set("一上不大小回有得成手年")


@pytest.mark.skipif(not SHARED_SENTIMENT.exists(), reason=f"{SHARED_SENTIMENT} absent")
def test_pre_check_agrees_with_full_conversion_on_real_posts() -> None:
    with (SHARED_SENTIMENT / "zh_weibo.dev.csv").open(encoding="utf-8") as f:
        posts = [row["text"] for row in csv.DictReader(f)][:400]
    s2t = opencc.OpenCC("s2t")
    t2s = opencc.OpenCC("t2s")
    texts = posts + [s2t.convert(p) for p in posts]
    assert [to_simplified(t) for t in texts] == [t2s.convert(t) for t in texts]
    assert sum(to_simplified(p) is p for p in posts) > 300  # most Simplified posts skip OpenCC


FORM_TEXTS = [
    "<p>華為&amp;ＡＣＭＥ  新品 https://t.cn/abc @小王 </p>",
    "&lt;b&gt;阿克米&lt;/b&gt; 很好",  # unescaping makes a tag: a second clean() strips it
    "＜b＞阿克米＜/b＞ 不错",  # NFKC makes a tag
    "e\u200b\u0301 阿克米",  # removing the zero-width space leaves a text NFKC changes again
    "@@阿克米 太差了",  # normalize() drops one @ per pass
    "同感//@小王: 華為太贵了",
    "同感//@小王: 对//@老李: 阿克米咖啡太难喝",
    "转发微博",
    "RT @bob: ACME coffee is cold",
    "收到回覆 阿克米",
    "",
    "   ",
    "阿克米咖啡太难喝了",
]


@pytest.mark.parametrize("text", FORM_TEXTS)
def test_text_forms_equal_the_module_functions(text: str) -> None:
    forms = TextForms.of(text)
    assert forms.cleaned == clean(text)
    assert forms.normalized == normalize(text)
    assert (forms.own, list(forms.chain)) == split_repost(text)
    assert forms.repost_only == is_repost_only(text)
    assert forms.scoring_text() == normalize(normalize(text))
    # the parts dedupe joins: own words and the root post
    parts = [forms.own, forms.chain[-1]] if forms.chain else [forms.own]
    assert forms.normalized_join(parts) == normalize(" ".join(p for p in parts if p))


@pytest.mark.parametrize("text", FORM_TEXTS)
def test_clean_output_called_stable_is_stable(text: str) -> None:
    forms = TextForms.of(text)
    if forms.stable:
        assert clean(forms.cleaned) == forms.cleaned


def test_clean_output_that_a_second_clean_changes_is_not_stable() -> None:
    for text in ("&lt;b&gt;x", "＜b＞x", "e\u200b\u0301"):
        forms = TextForms.of(text)
        assert clean(forms.cleaned) != forms.cleaned and forms.stable is False
