from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from monitor.store.mentions import (
    INSERT_CHUNK,
    bucket_counts,
    count_mentions,
    insert_mentions,
    query_mentions,
    recent_fingerprints,
    sample_mentions,
    to_signed64,
    to_unsigned64,
)
from monitor.store.schema import mention_brands, mentions

from .conftest import T0, MentionFactory


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_insert_is_idempotent_on_source_and_external_id(
    engine: sa.Engine, make_mention: MentionFactory
) -> None:
    batch = [make_mention("1"), make_mention("2", brands=("acme", "beta")), make_mention("3")]
    with engine.begin() as conn:
        assert insert_mentions(conn, batch) == batch
    with engine.begin() as conn:
        assert insert_mentions(conn, batch) == []
    assert _count(engine, mentions) == 3
    assert _count(engine, mention_brands) == 4


def test_insert_returns_only_the_new_ones_in_batch_order(
    engine: sa.Engine, make_mention: MentionFactory
) -> None:
    a, b, c = make_mention("a"), make_mention("b"), make_mention("c")
    other_source_b = make_mention("b", source_id="demo-rss")
    with engine.begin() as conn:
        assert insert_mentions(conn, [b]) == [b]
    with engine.begin() as conn:
        # a duplicate inside the batch counts once; the same id from another source is new
        assert insert_mentions(conn, [c, b, a, c, other_source_b]) == [c, a, other_source_b]
    assert _count(engine, mentions) == 4


def test_mention_brand_rows_carry_epoch_seconds_and_label(
    engine: sa.Engine, make_mention: MentionFactory
) -> None:
    published = datetime(2026, 3, 2, 9, 7, 30, 900_000, tzinfo=UTC)
    m = make_mention("1", brands=("acme", "beta", "acme"), label="negative", published_at=published)
    with engine.begin() as conn:
        insert_mentions(conn, [m])
        rows = conn.execute(sa.select(mention_brands).order_by(mention_brands.c.brand)).all()
    assert [(r.brand, r.published_ts, r.sentiment_label) for r in rows] == [
        ("acme", 1772442450, "negative"),
        ("beta", 1772442450, "negative"),
    ]
    assert rows[0].published_ts == int(published.timestamp())


def test_batches_larger_than_one_statement(engine: sa.Engine, make_mention: MentionFactory) -> None:
    n = INSERT_CHUNK * 2 + 37
    batch = [make_mention(str(i), published_at=T0 + timedelta(seconds=i)) for i in range(n)]
    with engine.begin() as conn:
        assert len(insert_mentions(conn, batch)) == n
    with engine.begin() as conn:
        assert insert_mentions(conn, batch[-10:] + [make_mention("new")]) == [make_mention("new")]
    assert _count(engine, mentions) == n + 1
    assert _count(engine, mention_brands) == n + 1


def test_unicode_round_trip(engine: sa.Engine, make_mention: MentionFactory) -> None:
    text = "阿克米咖啡的新品太难喝了😡😡 退钱！#阿克米# 繁體也要：咖啡廳"
    m = make_mention(
        "微博-4912", text=text, author="小红🍓", title="标题：召回？", url="https://weibo.example/阿克米?q=😀"
    )
    with engine.begin() as conn:
        insert_mentions(conn, [m])
    with engine.connect() as conn:
        [row] = query_mentions(conn)
    assert (row["text"], row["author"], row["title"], row["url"], row["external_id"]) == (
        text,
        "小红🍓",
        "标题：召回？",
        "https://weibo.example/阿克米?q=😀",
        "微博-4912",
    )


def test_aware_datetimes_come_back_as_utc(engine: sa.Engine, make_mention: MentionFactory) -> None:
    beijing = timezone(timedelta(hours=8))
    published = datetime(2026, 3, 2, 17, 30, 15, 123456, tzinfo=beijing)
    fetched = datetime(2026, 3, 2, 9, 31, tzinfo=UTC)
    with engine.begin() as conn:
        insert_mentions(conn, [make_mention("1", published_at=published, fetched_at=fetched)])
    with engine.connect() as conn:
        [row] = query_mentions(conn)
    assert row["published_at"] == published
    assert row["published_at"].tzinfo is UTC
    assert row["published_at"] == datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
    assert row["fetched_at"] == fetched and row["fetched_at"].tzinfo is UTC


def test_naive_datetime_is_refused_before_any_sql(engine: sa.Engine, make_mention: MentionFactory) -> None:
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="source=demo-weibo external_id='1': published_at .* is naive"):
            insert_mentions(conn, [make_mention("1", published_at=datetime(2026, 3, 2, 9, 0))])
    assert _count(engine, mentions) == 0


@pytest.mark.parametrize("value", [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0xDEADBEEFCAFEBABE])
def test_signed_conversion_round_trips(value: int) -> None:
    stored = to_signed64(value)
    assert -(1 << 63) <= stored < (1 << 63)
    assert to_unsigned64(stored) == value


@pytest.mark.parametrize("value", [-1, 1 << 64])
def test_signed_conversion_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ValueError, match=repr(value)):
        to_signed64(value)


def test_simhash_with_top_bit_set_round_trips(engine: sa.Engine, make_mention: MentionFactory) -> None:
    values = [(1 << 64) - 1, 1 << 63, 0xDEADBEEFCAFEBABE, (1 << 63) - 1, 0]
    batch = [
        make_mention(str(i), simhash=v, fetched_at=T0 + timedelta(minutes=i)) for i, v in enumerate(values)
    ]
    with engine.begin() as conn:
        insert_mentions(conn, batch)
    with engine.connect() as conn:
        fps = recent_fingerprints(conn, T0)
        rows = query_mentions(conn)
    assert [(h, s, at) for h, s, at in fps] == [(m.content_hash, m.simhash, m.fetched_at) for m in batch]
    assert sorted(r["simhash"] for r in rows) == sorted(values)


def test_recent_fingerprints_start_at_since(engine: sa.Engine, make_mention: MentionFactory) -> None:
    batch = [make_mention(str(i), fetched_at=T0 + timedelta(hours=i)) for i in range(5)]
    with engine.begin() as conn:
        insert_mentions(conn, list(reversed(batch)))
    with engine.connect() as conn:
        fps = recent_fingerprints(conn, T0 + timedelta(hours=3))
    assert [at for _, _, at in fps] == [T0 + timedelta(hours=3), T0 + timedelta(hours=4)]


def test_bucket_counts_on_a_hand_built_set(engine: sa.Engine, make_mention: MentionFactory) -> None:
    s = timedelta(seconds=1)
    T0_TS = int(T0.timestamp())
    assert T0_TS % 900 == 0
    batch = [
        make_mention("before", published_at=T0 - s, label="negative"),  # outside [since, until)
        make_mention("b0-first", published_at=T0, label="negative"),  # first second of bucket 0
        make_mention("b0-mid", published_at=T0 + 450 * s, label="positive"),
        make_mention(
            "b0-last", published_at=T0 + 899 * s + timedelta(microseconds=999_999), label="negative"
        ),
        make_mention("b1-first", published_at=T0 + 900 * s, label="negative"),  # next bucket
        make_mention("b1-two", published_at=T0 + 1000 * s, label="neutral", brands=("acme", "beta")),
        make_mention("b1-beta", published_at=T0 + 1000 * s, label="negative", brands=("beta",)),
        make_mention("b3", published_at=T0 + 2700 * s, label="positive"),  # bucket 2 stays empty
        make_mention("at-until", published_at=T0 + 3600 * s, label="negative"),  # until is exclusive
    ]
    with engine.begin() as conn:
        insert_mentions(conn, batch)
    with engine.connect() as conn:
        acme = bucket_counts(conn, "acme", T0, T0 + 3600 * s, 900)
        beta = bucket_counts(conn, "beta", T0, T0 + 3600 * s, 900)
        # since cutting through a bucket: counted only from since, keyed by the bucket start
        partial = bucket_counts(conn, "acme", T0 + 300 * s, T0 + 1800 * s, 900)
        hourly = bucket_counts(conn, "acme", T0 - 3600 * s, T0 + 7200 * s, 3600)
        nobody = bucket_counts(conn, "nobody", T0, T0 + 3600 * s, 900)
    assert acme == {
        T0_TS: {"negative": 2, "positive": 1},
        T0_TS + 900: {"negative": 1, "neutral": 1},
        T0_TS + 2700: {"positive": 1},
    }
    assert beta == {T0_TS + 900: {"neutral": 1, "negative": 1}}
    assert partial == {T0_TS: {"positive": 1, "negative": 1}, T0_TS + 900: {"negative": 1, "neutral": 1}}
    assert hourly == {
        T0_TS - 3600: {"negative": 1},
        T0_TS: {"negative": 3, "positive": 2, "neutral": 1},
        T0_TS + 3600: {"negative": 1},
    }
    assert nobody == {}


def test_bucket_counts_rejects_bad_arguments(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(ValueError, match="bucket_seconds must be positive, got 0"):
            bucket_counts(conn, "acme", T0, T0 + timedelta(hours=1), 0)
        with pytest.raises(ValueError, match="is naive"):
            bucket_counts(conn, "acme", datetime(2026, 3, 2), T0, 900)


def test_query_and_count_with_filters(engine: sa.Engine, make_mention: MentionFactory) -> None:
    batch = [
        make_mention("1", published_at=T0, label="negative"),
        make_mention("2", published_at=T0 + timedelta(minutes=1), label="positive", brands=("beta",)),
        make_mention("3", published_at=T0 + timedelta(minutes=2), label="negative", brands=("acme", "beta")),
        make_mention("4", published_at=T0 + timedelta(minutes=3), label="neutral", source_id="demo-rss"),
        make_mention("5", published_at=T0 + timedelta(minutes=4), label="negative"),
    ]
    with engine.begin() as conn:
        insert_mentions(conn, batch)

    def ids(**kw: object) -> list[str]:
        with engine.connect() as conn:
            rows = query_mentions(conn, **kw)  # type: ignore[arg-type]
            if "limit" not in kw:  # count_mentions agrees with every unpaged query
                assert count_mentions(conn, **kw) == len(rows)  # type: ignore[arg-type]
        return [r["external_id"] for r in rows]

    assert ids() == ["5", "4", "3", "2", "1"]  # newest first
    assert ids(brand="acme") == ["5", "4", "3", "1"]
    assert ids(brand="beta") == ["3", "2"]
    assert ids(sentiment="negative", brand="acme") == ["5", "3", "1"]
    assert ids(source_id="demo-rss") == ["4"]
    assert ids(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)) == ["3", "2"]
    assert ids(limit=2) == ["5", "4"]
    assert ids(limit=2, offset=2) == ["3", "2"]
    with engine.connect() as conn:
        assert count_mentions(conn) == 5
        assert count_mentions(conn, brand="acme", sentiment="negative") == 3
        assert count_mentions(conn, brand="beta", since=T0 + timedelta(minutes=2)) == 1
        [row] = query_mentions(conn, brand="beta", sentiment="negative")
        with pytest.raises(ValueError, match="'furious'"):
            query_mentions(conn, sentiment="furious")
    assert row["brands"] == ["acme", "beta"]
    assert row["sentiment_label"] == "negative" and row["model_version"] == "test-1"


def test_sample_mentions_picks_highest_engagement(engine: sa.Engine, make_mention: MentionFactory) -> None:
    batch = [
        make_mention("low", engagement=3, label="negative"),
        make_mention("viral", engagement=90_000, label="negative", author="大V", author_followers=2_000_000),
        make_mention("mid", engagement=500, label="negative"),
        make_mention("happy", engagement=10**6, label="positive"),
        make_mention("old", engagement=10**7, label="negative", published_at=T0 - timedelta(days=1)),
        make_mention("other-brand", engagement=10**7, label="negative", brands=("beta",)),
    ]
    with engine.begin() as conn:
        insert_mentions(conn, batch)
    with engine.connect() as conn:
        window = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))
        negative = sample_mentions(conn, "acme", *window, sentiment="negative", limit=2)
        any_label = sample_mentions(conn, "acme", *window)
    assert [r["external_id"] for r in negative] == ["viral", "mid"]
    assert negative[0]["author_followers"] == 2_000_000
    assert [r["external_id"] for r in any_label] == ["happy", "viral", "mid", "low"]


def test_overlong_values_do_not_fail_the_batch(engine: sa.Engine, make_mention: MentionFactory) -> None:
    long_id = "https://news.example/" + "x" * 700
    m = make_mention(long_id, author="作" * 600, platform="p" * 100)
    with engine.begin() as conn:
        assert insert_mentions(conn, [m]) == [m]
    with engine.begin() as conn:
        assert insert_mentions(conn, [m]) == []  # the shortened key is stable across polls
    with engine.connect() as conn:
        [row] = query_mentions(conn)
    assert len(row["external_id"]) == 512 and row["external_id"].startswith("https://news.example/xxx")
    assert len(row["author"]) == 512 and len(row["platform"]) == 64


def test_concurrent_writers_insert_each_mention_once(engine: sa.Engine, make_mention: MentionFactory) -> None:
    batch = [make_mention(str(i)) for i in range(300)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def ingest(items: list) -> None:
        try:
            with engine.begin() as conn:
                results.append([m.external_id for m in insert_mentions(conn, items)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # Overlapping batches in different orders, as two replicas re-polling the same feed would.
    threads = [threading.Thread(target=ingest, args=(b,)) for b in (batch, batch[::-1], batch[100:200])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    inserted = [x for r in results for x in r]
    assert sorted(inserted) == sorted(m.external_id for m in batch)  # each exactly once
    assert _count(engine, mentions) == 300


# --- keywords and crisis terms (migration 0002) ------------------------------------------------

from monitor.store.mentions import crisis_counts, term_counts  # noqa: E402


def test_keywords_and_crisis_terms_round_trip(engine: sa.Engine, make_mention: MentionFactory) -> None:
    with_terms = make_mention(
        "t1", label="negative", keywords=("变质", "退款", "客服"), crisis_terms=("召回", "food poisoning")
    )
    without = make_mention("t2")
    with engine.begin() as conn:
        insert_mentions(conn, [with_terms, without])
    with engine.connect() as conn:
        rows = {r["external_id"]: r for r in query_mentions(conn, brand="acme")}
        sampled = sample_mentions(conn, "acme", T0, T0 + timedelta(minutes=1), sentiment="negative")
        stored = dict(conn.execute(sa.select(mentions.c.external_id, mentions.c.crisis_terms)).all())
    assert rows["t1"]["keywords"] == ["变质", "退款", "客服"]
    assert rows["t1"]["crisis_terms"] == ["召回", "food poisoning"]  # a term with a space survives
    assert rows["t2"]["keywords"] == [] and rows["t2"]["crisis_terms"] == []
    assert [s["crisis_terms"] for s in sampled] == [["召回", "food poisoning"]]
    assert stored["t2"] is None  # no terms -> NULL, which is what crisis_counts selects on


def test_crisis_counts_per_bucket_with_widest_reach(engine: sa.Engine, make_mention: MentionFactory) -> None:
    batch = [
        make_mention("c1", crisis_terms=("召回",), author_followers=1_200, published_at=T0 + timedelta(minutes=1)),
        make_mention("c2", crisis_terms=("起诉",), author_followers=250_000, published_at=T0 + timedelta(minutes=9)),
        make_mention("c3", crisis_terms=("召回",), published_at=T0 + timedelta(minutes=20)),  # followers unknown
        make_mention("n1", published_at=T0 + timedelta(minutes=2), author_followers=9_000_000),  # no crisis term
        make_mention("b1", brands=("beta",), crisis_terms=("召回",), published_at=T0 + timedelta(minutes=3)),
        make_mention("late", crisis_terms=("召回",), published_at=T0 + timedelta(minutes=40)),
    ]
    with engine.begin() as conn:
        insert_mentions(conn, batch)
    base = int(T0.timestamp())
    with engine.connect() as conn:
        counts = crisis_counts(conn, "acme", T0, T0 + timedelta(minutes=30), 900)
        with pytest.raises(ValueError, match="bucket_seconds"):
            crisis_counts(conn, "acme", T0, T0, 0)
    assert counts == {base: (2, 250_000), base + 900: (1, 0)}


def test_term_counts_counts_mentions_per_term(engine: sa.Engine, make_mention: MentionFactory) -> None:
    batch = [
        make_mention("k1", label="negative", keywords=("变质", "退款", "变质")),
        make_mention("k2", label="negative", keywords=("变质", "客服"), crisis_terms=("召回",)),
        make_mention("k3", label="negative", keywords=("客服",)),
        make_mention("k4", label="positive", keywords=("好喝", "变质"), crisis_terms=("召回", "起诉")),
    ]
    with engine.begin() as conn:
        insert_mentions(conn, batch)
    until = T0 + timedelta(minutes=1)
    with engine.connect() as conn:
        negative = term_counts(conn, "acme", T0, until, sentiment="negative")
        crisis = term_counts(conn, "acme", T0, until, column="crisis_terms")
        top1 = term_counts(conn, "acme", T0, until, limit=1)
        with pytest.raises(ValueError, match="column"):
            term_counts(conn, "acme", T0, until, column="text")
    assert negative == [("变质", 2), ("客服", 2), ("退款", 1)]  # k1 counts 变质 once
    assert crisis == [("召回", 2), ("起诉", 1)]
    assert top1 == [("变质", 3)]
