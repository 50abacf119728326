from __future__ import annotations

import pytest

from monitor.models import Brand, BrandMatch
from nlp.brands import BrandMatcher
from nlp.normalize import normalize
from nlp.segment import Segmenter

from .conftest import BRANDS


@pytest.fixture(scope="module")
def env() -> tuple[BrandMatcher, Segmenter]:
    matcher = BrandMatcher(BRANDS)
    return matcher, Segmenter(words=matcher.segmenter_words())


def brands_in(env: tuple[BrandMatcher, Segmenter], raw: str) -> list[str]:
    matcher, seg = env
    text = normalize(raw)
    return [m.brand for m in matcher.match(text, seg.tokens(text))]


@pytest.mark.parametrize("raw", ["華為手機的售後太差", "华为手机的售后太差", "華为的客服"])
def test_traditional_and_simplified_both_match(env, raw: str) -> None:
    assert brands_in(env, raw) == ["huawei"]


def test_traditional_alias_in_config_matches_simplified_text() -> None:
    matcher = BrandMatcher([Brand(id="acme", name="阿克米咖啡", aliases=("阿克米咖啡館",))])
    seg = Segmenter(words=matcher.segmenter_words())
    text = normalize("阿克米咖啡馆的座位很舒服")
    found = matcher.match(text, seg.tokens(text))
    assert found and found[0].alias in ("阿克米咖啡館", "阿克米咖啡")


def test_match_reports_alias_and_offset(env) -> None:
    matcher, seg = env
    text = normalize("今天的阿克米咖啡太苦了")
    assert matcher.match(text, seg.tokens(text)) == [BrandMatch(brand="acme", alias="阿克米咖啡", start=3)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I love ACME Coffee", ["acme"]),
        ("acme coffee is late again", ["acme"]),
        ("ACME's new latte", ["acme"]),
        ("#acme where is my order", ["acme"]),
        ("用ACME点了外卖", ["acme"]),
        ("welcome to acmeville", []),
        ("the acme2000 blender", []),
        ("HUAWEI P60 camera", ["huawei"]),
    ],
)
def test_english_aliases_case_insensitive_on_word_boundaries(env, raw: str, expected: list[str]) -> None:
    assert brands_in(env, raw) == expected


def test_exclusion_masks_its_span_and_is_reported(env) -> None:
    matcher, seg = env
    text = normalize("阿克米德是古希腊的数学家")
    detail = matcher.match_detail(text, seg.tokens(text))
    assert detail.matches == []
    assert [m.brand for m in detail.excluded] == ["acme"]
    # the same text naming the brand elsewhere still matches
    text2 = normalize("阿克米德的书放在阿克米咖啡店里")
    assert [m.brand for m in matcher.match(text2, seg.tokens(text2))] == ["acme"]


def test_brand_inside_a_longer_dictionary_word_does_not_match(env) -> None:
    assert brands_in(env, "早餐喝了小米粥") == []
    assert brands_in(env, "小米的新手机发布了") == ["mi"]
    assert brands_in(env, "小米手机续航不错") == ["mi"]
    # 小米椒 (chili) is cut 小米/椒 by jieba, so it needs the configured exclusion
    matcher, seg = env
    text = normalize("炒菜放了小米椒")
    detail = matcher.match_detail(text, seg.tokens(text))
    assert detail.matches == [] and detail.excluded


def test_several_brands_in_one_text(env) -> None:
    assert brands_in(env, "华为和小米都比阿克米的外卖快") == ["huawei", "mi", "acme"]


def test_duplicate_brand_ids_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        BrandMatcher([Brand(id="a", name="甲"), Brand(id="a", name="乙")])
