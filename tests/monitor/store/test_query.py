"""Mention history queries on real SQLite and PostgreSQL: filters, keyset pages, text search, series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.store import corrections
from monitor.store.mentions import insert_mentions
from monitor.store.query import (
    MentionFilter,
    QueryError,
    count_mentions,
    get_mention,
    iter_mentions,
    search_mentions,
    sentiment_series,
)
from tests.monitor.store.conftest import T0

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> 阿克米'


@pytest.fixture
def stored(engine: sa.Engine, make_mention) -> dict[str, int]:
    """A small history: two brands, two sources, Traditional and Simplified text, ties in time."""
    ms = [
        make_mention("a1", text="阿克米乳業召回事件，消費者很憤怒", label="negative", brands=("acme",),
                     published_at=T0, author="王小明", engagement=50, title="乳業新聞"),
        make_mention("a2", text="阿克米乳业发布新品，味道不错", label="positive", brands=("acme",),
                     published_at=T0 + timedelta(minutes=10), author="李雷", engagement=5),
        make_mention("a3", text="阿克米 ACME coffee is great", label="positive", brands=("acme", "beta"),
                     published_at=T0 + timedelta(minutes=10), author="王小明", engagement=500),  # same time as a2
        make_mention("b1", text="贝塔手机 100% 好用_真的", label="neutral", brands=("beta",),
                     published_at=T0 + timedelta(hours=1), source_id="news", engagement=7),
        make_mention("h1", text=HOSTILE, label="negative", brands=("acme",), title="=cmd|' /C calc'!A0",
                     published_at=T0 + timedelta(hours=2), author="<b>bad</b>", engagement=1),
        make_mention("old", text="阿克米 去年的帖子", label="neutral", brands=("acme",),
                     published_at=T0 - timedelta(days=30), engagement=0),
    ]
    with engine.begin() as conn:
        insert_mentions(conn, ms)
        ids = dict(conn.execute(sa.text("SELECT external_id, id FROM mentions")).all())
    return {k: int(v) for k, v in ids.items()}


def ext(engine: sa.Engine, ids: dict[str, int], flt: MentionFilter, **kw) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[r.id] for r in search_mentions(engine, flt, **kw).rows]


def test_filters_by_brand_source_time_sentiment_author(engine, stored) -> None:
    assert ext(engine, stored, MentionFilter(brands=("acme",))) == ["h1", "a3", "a2", "a1", "old"]
    assert ext(engine, stored, MentionFilter(brands=("beta",))) == ["b1", "a3"]
    assert ext(engine, stored, MentionFilter(brands=("acme", "beta"))) == ["h1", "b1", "a3", "a2", "a1", "old"]
    assert ext(engine, stored, MentionFilter(sources=("news",))) == ["b1"]
    assert ext(engine, stored, MentionFilter(since=T0, until=T0 + timedelta(hours=1))) == ["a3", "a2", "a1"]
    assert ext(engine, stored, MentionFilter(brands=("acme",), since=T0 + timedelta(minutes=10),
                                             until=T0 + timedelta(hours=2))) == ["a3", "a2"]
    assert ext(engine, stored, MentionFilter(brands=("acme",), sentiments=("negative",))) == ["h1", "a1"]
    assert ext(engine, stored, MentionFilter(sentiments=("positive", "neutral"))) == ["b1", "a3", "a2", "old"]
    assert ext(engine, stored, MentionFilter(author="王小明")) == ["a3", "a1"]
    assert ext(engine, stored, MentionFilter(brands=("acme",), author="王小明", sentiments=("positive",))) == ["a3"]
    assert ext(engine, stored, MentionFilter(brands=("nobody",))) == []
    assert count_mentions(engine, MentionFilter(brands=("acme",))) == 5
    assert count_mentions(engine, MentionFilter(brands=("acme",)), cap=2) == 2


def test_text_search_folds_traditional_simplified_case_and_width(engine, stored) -> None:
    both = ["a2", "a1"]
    assert ext(engine, stored, MentionFilter(text="乳业")) == both  # Simplified query finds 乳業 too
    assert ext(engine, stored, MentionFilter(text="乳業")) == both
    assert ext(engine, stored, MentionFilter(text="消费者")) == ["a1"]  # 消費者
    assert ext(engine, stored, MentionFilter(text="acme COFFEE")) == ["a3"]  # every term, any case
    assert ext(engine, stored, MentionFilter(text="ＡＣＭＥ")) == ["a3"]  # full-width query
    assert ext(engine, stored, MentionFilter(text='"coffee is"')) == ["a3"]  # a quoted phrase
    assert ext(engine, stored, MentionFilter(text="coffee 乳业")) == []
    assert ext(engine, stored, MentionFilter(text="乳业", brands=("acme",), sentiments=("negative",))) == ["a1"]
    assert ext(engine, stored, MentionFilter(text="新闻")) == ["a1"]  # the title counts (乳業新聞)


def test_text_search_treats_wildcards_and_markup_as_text(engine, stored) -> None:
    assert ext(engine, stored, MentionFilter(text="100%")) == ["b1"]
    assert ext(engine, stored, MentionFilter(text="%")) == ["b1"]  # not "anything"
    assert ext(engine, stored, MentionFilter(text="_")) == ["b1"]
    assert ext(engine, stored, MentionFilter(text="*")) == []  # GLOB's wildcard is a character here
    assert ext(engine, stored, MentionFilter(text="[a-z]")) == []
    assert ext(engine, stored, MentionFilter(text="好用_真")) == ["b1"]
    assert ext(engine, stored, MentionFilter(text="<script>")) == ["h1"]
    assert ext(engine, stored, MentionFilter(text="onerror=alert(1)")) == ["h1"]
    assert ext(engine, stored, MentionFilter(text="\\")) == []
    row = get_mention(engine, stored["h1"])
    assert row is not None and row.text == HOSTILE and row.author == "<b>bad</b>"  # stored verbatim
    with pytest.raises(QueryError, match="at most 200"):
        search_mentions(engine, MentionFilter(text="x" * 201))


def test_orders_and_keyset_pages_cover_every_row_once(engine, make_mention) -> None:
    # 23 mentions, many sharing a second, so ties are broken by id across page boundaries.
    batch = [make_mention(f"m{i:02d}", brands=("acme",) if i % 3 else ("acme", "beta"),
                          label=("negative", "neutral", "positive")[i % 3],
                          published_at=T0 + timedelta(seconds=i // 4), engagement=i % 5) for i in range(23)]
    with engine.begin() as conn:
        insert_mentions(conn, batch)
    for flt in (MentionFilter(brands=("acme",)), MentionFilter(), MentionFilter(brands=("acme", "beta")),
                MentionFilter(brands=("acme",), include_irrelevant=True)):
        for order in ("newest", "oldest", "engagement"):
            seen, cursor, pages = [], None, 0
            while True:
                page = search_mentions(engine, flt, order=order, limit=4, cursor=cursor)
                seen += page.rows
                pages += 1
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            everything = search_mentions(engine, flt, order=order, limit=100).rows
            assert [r.id for r in seen] == [r.id for r in everything], (flt, order)
            assert len({r.id for r in seen}) == len(seen) == 23 and pages == 6
            keys = [(r.published_at, r.id) for r in seen] if order != "engagement" else \
                [(r.engagement, r.id) for r in seen]
            assert keys == sorted(keys, reverse=order != "oldest"), (flt, order)
            assert [r.id for r in iter_mentions(engine, flt, order=order, batch=5)] == [r.id for r in seen]


def test_a_row_inserted_between_pages_neither_shifts_nor_repeats(engine, make_mention) -> None:
    with engine.begin() as conn:
        insert_mentions(conn, [make_mention(f"m{i}", published_at=T0 + timedelta(minutes=i)) for i in range(6)])
    first = search_mentions(engine, MentionFilter(brands=("acme",)), limit=3)
    with engine.begin() as conn:  # a newer mention arrives while the analyst reads page 1
        insert_mentions(conn, [make_mention("late", published_at=T0 + timedelta(hours=1))])
    second = search_mentions(engine, MentionFilter(brands=("acme",)), limit=3, cursor=first.next_cursor)
    assert [r.external_id for r in first.rows + second.rows] == ["m5", "m4", "m3", "m2", "m1", "m0"]
    assert second.next_cursor is None


def test_bad_cursor_order_limit_and_filters_are_query_errors(engine, stored) -> None:
    page = search_mentions(engine, MentionFilter(brands=("acme",)), limit=2)
    assert page.next_cursor
    for bad in ("nonsense", "!!!", page.next_cursor[:-3], "W10", "eyJhIjogMX0"):
        with pytest.raises(QueryError, match="cursor") as info:
            search_mentions(engine, MentionFilter(brands=("acme",)), limit=2, cursor=bad)
        assert "\n" not in str(info.value)
    with pytest.raises(QueryError, match="cursor"):  # a cursor of another order
        search_mentions(engine, MentionFilter(brands=("acme",)), order="oldest", cursor=page.next_cursor)
    with pytest.raises(QueryError, match="order 'loudest'"):
        search_mentions(engine, MentionFilter(), order="loudest")
    with pytest.raises(QueryError, match="limit"):
        search_mentions(engine, MentionFilter(), limit=0)
    with pytest.raises(QueryError, match="sentiment 'angry'"):
        search_mentions(engine, MentionFilter(sentiments=("angry",)))
    with pytest.raises(QueryError, match="time zone"):
        search_mentions(engine, MentionFilter(since=datetime(2026, 3, 1)))
    with pytest.raises(QueryError, match="before until"):
        search_mentions(engine, MentionFilter(since=T0, until=T0))


def test_rows_show_corrections_and_keep_the_model_label(engine, stored) -> None:
    at = T0 + timedelta(days=1)
    corrections.relabel(engine, stored["a3"], "negative", by="王五", at=at, note="反讽")
    corrections.mark_irrelevant(engine, stored["a3"], "beta", by="赵六", at=at + timedelta(minutes=1))
    row = get_mention(engine, stored["a3"])
    assert row is not None
    assert (row.sentiment_label, row.model_label) == ("negative", "positive")
    assert (row.brands, row.irrelevant_brands) == (("acme",), ("beta",))
    assert (row.corrected_by, row.corrected_at) == ("赵六", at + timedelta(minutes=1))
    assert get_mention(engine, stored["a2"]).corrected_by is None  # type: ignore[union-attr]
    assert get_mention(engine, 10**9) is None
    # filters see the corrected state
    assert ext(engine, stored, MentionFilter(brands=("acme",), sentiments=("negative",))) == ["h1", "a3", "a1"]
    assert ext(engine, stored, MentionFilter(sentiments=("positive",))) == ["a2"]
    assert ext(engine, stored, MentionFilter(brands=("beta",))) == ["b1"]
    assert ext(engine, stored, MentionFilter(brands=("beta",), include_irrelevant=True)) == ["b1", "a3"]


def test_a_mention_irrelevant_for_every_brand_is_hidden_unless_asked(engine, stored) -> None:
    corrections.mark_irrelevant(engine, stored["a1"], "acme", by="王五", at=T0)
    assert "a1" not in ext(engine, stored, MentionFilter())
    assert "a1" not in ext(engine, stored, MentionFilter(text="乳业"))
    shown = ext(engine, stored, MentionFilter(include_irrelevant=True, sentiments=("negative",)))
    assert shown == ["h1", "a1"]
    corrections.relabel(engine, stored["a1"], "neutral", by="王五", at=T0)
    assert ext(engine, stored, MentionFilter(include_irrelevant=True, sentiments=("negative",))) == ["h1"]
    assert "a1" in ext(engine, stored, MentionFilter(include_irrelevant=True, sentiments=("neutral",)))


def test_sentiment_series_is_zero_filled_and_honours_corrections(engine, stored) -> None:
    series = sentiment_series(engine, "acme", T0, T0 + timedelta(hours=3), 3600)
    assert [p.start for p in series] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert [(p.negative, p.neutral, p.positive) for p in series] == [(1, 0, 2), (0, 0, 0), (1, 0, 0)]
    assert series[0].start.tzinfo is not None and series[0].total == 3
    corrections.relabel(engine, stored["a2"], "negative", by="王五", at=T0)
    corrections.mark_irrelevant(engine, stored["a3"], "acme", by="王五", at=T0)
    series = sentiment_series(engine, "acme", T0, T0 + timedelta(hours=3), 3600)
    assert [(p.negative, p.neutral, p.positive) for p in series] == [(2, 0, 0), (0, 0, 0), (1, 0, 0)]
    # a start inside a bucket: the bucket starts on the grid and counts from start only
    part = sentiment_series(engine, "acme", T0 + timedelta(minutes=5), T0 + timedelta(minutes=20), 900)
    assert [p.start for p in part] == [T0, T0 + timedelta(minutes=15)]
    assert [p.total for p in part] == [1, 0]
    with pytest.raises(QueryError, match="too long"):
        sentiment_series(engine, "acme", T0 - timedelta(days=365), T0, 60)
    with pytest.raises(QueryError, match="before end"):
        sentiment_series(engine, "acme", T0, T0, 60)
    assert sentiment_series(engine, "acme", datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 1, tzinfo=UTC),
                            900)[0].total == 0
