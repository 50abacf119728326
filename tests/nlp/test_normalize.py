from __future__ import annotations

import time

import pytest

from nlp.normalize import clean, is_repost_only, normalize, split_repost, strip_repost_chain, to_simplified


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
