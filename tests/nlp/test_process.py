from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import DropReason, RawItem, SentimentLabel
from nlp.dedupe import Deduper
from nlp.normalize import normalize
from nlp.process import TextProcessor
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel

from .conftest import BRANDS

FETCHED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def item(eid: str, text: str, **kw) -> RawItem:
    return RawItem(source_id="demo-weibo", external_id=eid, text=text, **kw)


@pytest.fixture
def processor(shipped_model: SentimentModel) -> TextProcessor:
    return TextProcessor(BRANDS, model=shipped_model, segmenter=Segmenter(), deduper=Deduper(24, 3, 12))


def test_end_to_end(processor: TextProcessor) -> None:
    published = FETCHED - timedelta(minutes=7)
    items = [
        item(
            "1",
            "阿克米咖啡的外卖送到已经凉了，客服也打不通，太失望了",
            published_at=published,
            author="小王",
            engagement=12,
            author_followers=3400,
            platform="weibo",
            url="https://weibo.example/1",
        ),
        item("2", "華為的新手機拍照真的很棒，推薦！", title="数码"),
        item("3", "今天天气不错，出去走走"),
        item("4", "阿克米德的浮力定律"),
        item("5", "转发微博//@小王: 阿克米咖啡的外卖送到已经凉了"),
        item("6", "阿克米咖啡的外卖送到已经凉了，客服也打不通，太失望了"),
        item("7", "阿克米咖啡的外卖送到已经凉了，客服也打不通，太失望了！！！"),
        item("8", "   "),
        item("9", "Loving the new ACME Coffee cold brew, best in town!"),
        item("10", "👍👍", title="小米"),
    ]
    result = processor.process(items, fetched_at=FETCHED)
    dropped = {it.external_id: reason for it, reason in result.dropped}
    assert dropped == {
        "3": DropReason.NO_BRAND,
        "4": DropReason.EXCLUDED,
        "5": DropReason.REPOST,
        "6": DropReason.DUPLICATE,
        "7": DropReason.NEAR_DUPLICATE,
        "8": DropReason.EMPTY,
    }
    by_id = {m.external_id: m for m in result.mentions}
    assert list(by_id) == ["1", "2", "9", "10"]

    m1 = by_id["1"]
    assert m1.brands == ("acme",) and m1.matches[0].alias == "阿克米咖啡"
    assert m1.sentiment.label is SentimentLabel.NEGATIVE and m1.lang == "zh"
    assert m1.published_at == published and m1.fetched_at == FETCHED
    assert (m1.author, m1.engagement, m1.author_followers, m1.platform) == ("小王", 12, 3400, "weibo")
    assert len(m1.content_hash) == 40 and 0 <= m1.simhash < 2**64
    assert "阿克米咖啡" in m1.tokens

    m2 = by_id["2"]
    assert m2.text == "数码\n華為的新手機拍照真的很棒，推薦！"  # original kept, title joined
    assert m2.brands == ("huawei",) and m2.sentiment.label is SentimentLabel.POSITIVE
    assert m2.published_at == FETCHED  # no time from the source

    assert by_id["9"].lang == "en" and by_id["9"].sentiment.label is SentimentLabel.POSITIVE
    assert by_id["10"].brands == ("mi",) and by_id["10"].sentiment.label is SentimentLabel.POSITIVE


def test_retried_poll_is_not_dropped_as_duplicate(processor: TextProcessor) -> None:
    batch = [item("1", "阿克米咖啡今天的新品很好喝，排队的人很多")]
    assert len(processor.process(batch, fetched_at=FETCHED).mentions) == 1
    # the store write failed, the cursor did not move, the same item comes again
    again = processor.process(batch, fetched_at=FETCHED + timedelta(minutes=5))
    assert len(again.mentions) == 1 and not again.dropped


def test_seeded_deduper_drops_what_the_store_already_has(shipped_model: SentimentModel) -> None:
    first = TextProcessor(BRANDS, model=shipped_model, deduper=Deduper(24, 3, 12))
    [m] = first.process([item("1", "阿克米咖啡的杯子漏了，洒了一身咖啡")], fetched_at=FETCHED).mentions
    restarted = TextProcessor(BRANDS, model=shipped_model, deduper=Deduper(24, 3, 12))
    restarted.deduper.seed([(m.content_hash, m.simhash, m.fetched_at)])
    res = restarted.process([item("2", "阿克米咖啡的杯子漏了，洒了一身咖啡")], fetched_at=FETCHED)
    assert [r for _, r in res.dropped] == [DropReason.DUPLICATE]


def test_empty_batch(processor: TextProcessor) -> None:
    assert processor.process([], fetched_at=FETCHED).mentions == []


def test_drops_are_reported_in_item_order(processor: TextProcessor) -> None:
    text = "阿克米咖啡的外卖送到已经凉了，客服也打不通，太失望了"
    items = [
        item("1", text),
        item("2", "今天天气不错，出去走走"),
        item("3", text),  # a duplicate, decided after the batch is hashed
        item("4", "   "),
        item("5", "阿克米咖啡的冰美式真好喝，天天都想喝"),
        item("6", "转发微博"),
    ]
    result = processor.process(items, fetched_at=FETCHED)
    assert [(it.external_id, reason) for it, reason in result.dropped] == [
        ("2", DropReason.NO_BRAND),
        ("3", DropReason.DUPLICATE),
        ("4", DropReason.EMPTY),
        ("6", DropReason.REPOST),
    ]
    assert [m.external_id for m in result.mentions] == ["1", "5"]


def test_scores_equal_scoring_the_normalised_text(processor: TextProcessor, shipped_model: SentimentModel) -> None:
    # Texts that a second normalize() still changes: the processor must score what
    # score_detail(normalised text) reads, without re-normalising every text itself.
    texts = ["@@阿克米 太难喝了", "&lt;b&gt;阿克米&lt;/b&gt; 真好喝", "華為手機拍照很棒 👍", "阿克米咖啡一般般"]
    result = processor.process([item(str(i), t) for i, t in enumerate(texts)], fetched_at=FETCHED)
    normalized = [normalize(t) for t in texts]
    tokens = [processor.segmenter.tokens(n) for n in normalized]
    expected = [shipped_model.to_sentiment(p) for p, _ in shipped_model.score_detail(normalized, tokens)]
    assert [m.sentiment for m in result.mentions] == expected
    assert [m.tokens for m in result.mentions] == [tuple(t) for t in tokens]
