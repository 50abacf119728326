from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.models import RawItem
from nlp.dedupe import Deduper
from nlp.keywords import CrisisTerms, KeywordExtractor
from nlp.normalize import normalize
from nlp.process import TextProcessor
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel

from .conftest import BRANDS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_LIST = ROOT / "config" / "dict" / "crisis_keywords.txt"
FETCHED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped_terms() -> CrisisTerms:
    return CrisisTerms.load(SHIPPED_LIST)


def test_shipped_list_loads_without_comments(shipped_terms: CrisisTerms) -> None:
    assert "召回" in shipped_terms.terms and "class action" in shipped_terms.terms
    assert not any(t.startswith("#") for t in shipped_terms.terms)
    assert "召回" in shipped_terms.segmenter_words() and "recall" not in shipped_terms.segmenter_words()


def test_chinese_terms_match_whole_tokens_in_list_order(shipped_terms: CrisisTerms) -> None:
    seg = Segmenter(words=shipped_terms.segmenter_words())
    text = normalize("阿克米咖啡被曝出食物中毒事件，门店已下架并召回相关产品")
    found = shipped_terms.match(text, seg.tokens(text))
    assert found == ("召回", "食物中毒", "下架", "曝光") or found == ("召回", "食物中毒", "下架")
    # A term that only occurs inside another word is not a match: 中毒 is part of 食物中毒 here.
    assert "中毒" not in found


def test_traditional_text_matches_after_folding(shipped_terms: CrisisTerms) -> None:
    seg = Segmenter(words=shipped_terms.segmenter_words())
    text = normalize("華為手機爆炸，消費者起訴")
    assert shipped_terms.match(text, seg.tokens(text)) == ("爆炸", "起诉")


def test_english_terms_are_case_insensitive_on_word_boundaries() -> None:
    terms = CrisisTerms(["Recall", "class action", "12315", "召回"])
    assert terms.terms == ("recall", "class action", "12315", "召回")
    assert terms.match("ACME announces RECALL of cold brew", []) == ("recall",)
    assert terms.match("a Class  Action filed; call 12315", []) == ("class action", "12315")
    assert terms.match("recalls and recalled items, classaction, 123150", []) == ()
    assert terms.match("no crisis here", ["no", "crisis"]) == ()


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.txt"):
        CrisisTerms.load(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"empty.txt.*no terms"):
        CrisisTerms.load(empty)


def test_keywords_skip_stop_words_punctuation_numbers_and_brand_aliases(segmenter: Segmenter) -> None:
    extractor = KeywordExtractor(exclude=["阿克米咖啡", "ACME"])
    text = normalize("阿克米咖啡的牛奶变质了！客服不回复，牛奶变质太可怕 2026 ACME")
    top = extractor.top(segmenter.tokens(text))
    assert 1 <= len(top) <= 5
    assert top[0] == "变质"  # twice, and rare in general text: the highest TF-IDF
    assert "牛奶" in top and "客服" in top
    assert not {"阿克米咖啡", "acme", "的", "了", "2026", "！", "，"} & set(top)


def test_keywords_english_lower_cased_and_limited() -> None:
    extractor = KeywordExtractor(limit=2)
    tokens = ["The", "battery", "exploded", "and", "the", "Battery", "caught", "fire", "!"]
    assert extractor.top(tokens) == ("battery", "exploded")
    assert extractor.top([]) == () and extractor.top(["的", "，", "1"]) == ()
    with pytest.raises(ConfigError):
        KeywordExtractor(limit=0)


def test_processor_fills_keywords_and_crisis_terms(shipped_model: SentimentModel, shipped_terms: CrisisTerms) -> None:
    processor = TextProcessor(
        BRANDS, model=shipped_model, segmenter=Segmenter(), deduper=Deduper(24, 3, 12), crisis_terms=shipped_terms
    )
    items = [
        RawItem("s", "1", "阿克米咖啡的牛奶变质了，喝完住院，我要起诉"),
        RawItem("s", "2", "ACME Coffee announces a recall of its cold brew"),
        RawItem("s", "3", "华为新手机拍照真不错"),
    ]
    result = processor.process(items, fetched_at=FETCHED)
    by_id = {m.external_id: m for m in result.mentions}
    assert by_id["1"].crisis_terms == ("起诉", "变质", "住院")
    assert "变质" in by_id["1"].keywords and "阿克米咖啡" not in by_id["1"].keywords
    assert by_id["2"].crisis_terms == ("recall",)
    assert "acme" not in by_id["2"].keywords and "coffee" not in by_id["2"].keywords
    assert by_id["3"].crisis_terms == () and by_id["3"].keywords  # keywords for every mention


def test_processor_without_a_list_finds_no_crisis_terms(shipped_model: SentimentModel) -> None:
    processor = TextProcessor(BRANDS, model=shipped_model, segmenter=Segmenter(), deduper=Deduper(24, 3, 12))
    (m,) = processor.process([RawItem("s", "1", "阿克米咖啡召回了")], fetched_at=FETCHED).mentions
    assert m.crisis_terms == () and m.keywords
