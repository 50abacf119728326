"""Analyst corrections on real SQLite and PostgreSQL: the log, its effect on every count, errors."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from monitor.store import corrections
from monitor.store.corrections import CorrectionError
from monitor.store.engine import make_engine
from monitor.store.mentions import bucket_counts, insert_mentions, sample_mentions
from monitor.store.migrate import upgrade
from monitor.store.schema import mention_brands, mention_corrections, mentions
from tests.monitor.store.conftest import T0

AT = T0 + timedelta(hours=5)
HOUR = (T0, T0 + timedelta(hours=1))


@pytest.fixture
def mid(engine: sa.Engine, make_mention) -> int:
    """One positive mention matched to two brands, plus a neighbour that must never change."""
    with engine.begin() as conn:
        insert_mentions(conn, [make_mention("m1", text="阿克米和贝塔联名 太棒了", label="positive",
                                            brands=("acme", "beta")),
                               make_mention("m2", label="neutral", brands=("acme",))])
        return int(conn.execute(sa.select(mentions.c.id).where(mentions.c.external_id == "m1")).scalar_one())


def brand_rows(engine: sa.Engine, mention_id: int) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(mention_brands.c.brand, mention_brands.c.sentiment_label)
                                 .where(mention_brands.c.mention_id == mention_id)).all())


def counts(engine: sa.Engine, brand: str) -> dict[str, int]:
    with engine.connect() as conn:
        return bucket_counts(conn, brand, *HOUR, 3600).get(int(T0.timestamp()), {})


def test_relabel_changes_every_count_but_not_the_model_label(engine, mid) -> None:
    assert counts(engine, "acme") == {"positive": 1, "neutral": 1}
    c = corrections.relabel(engine, mid, "negative", by=" 王五 ", at=AT, note="反讽，其实是差评")
    assert (c.kind, c.sentiment_label, c.brand, c.by, c.note, c.at) == ("sentiment", "negative", None, "王五",
                                                                       "反讽，其实是差评", AT)
    assert brand_rows(engine, mid) == {"acme": "negative", "beta": "negative"}
    assert counts(engine, "acme") == {"negative": 1, "neutral": 1}
    assert counts(engine, "beta") == {"negative": 1}
    with engine.connect() as conn:
        assert conn.execute(sa.select(mentions.c.sentiment_label).where(mentions.c.id == mid)).scalar() == "positive"
        assert [s["external_id"] for s in sample_mentions(conn, "acme", *HOUR, sentiment="negative")] == ["m1"]
    assert corrections.history(engine, mid) == [c]


def test_irrelevant_removes_the_brand_from_its_counts_and_restore_brings_it_back(engine, mid) -> None:
    corrections.mark_irrelevant(engine, mid, "beta", by="赵六", at=AT, note="不是贝塔手机")
    assert brand_rows(engine, mid) == {"acme": "positive"}
    assert counts(engine, "beta") == {}
    assert counts(engine, "acme") == {"positive": 1, "neutral": 1}
    # relabel while beta is out: the restored row carries the corrected label, not the model's
    corrections.relabel(engine, mid, "neutral", by="赵六", at=AT + timedelta(minutes=1))
    r = corrections.restore(engine, mid, "beta", by="王五", at=AT + timedelta(minutes=2), note="误判")
    assert brand_rows(engine, mid) == {"acme": "neutral", "beta": "neutral"}
    with engine.connect() as conn:
        ts = conn.execute(sa.select(mention_brands.c.published_ts).where(
            mention_brands.c.mention_id == mid, mention_brands.c.brand == "beta")).scalar()
    assert ts == int(T0.timestamp())
    assert [(h.kind, h.brand, h.by) for h in corrections.history(engine, mid)] == [
        ("irrelevant", "beta", "赵六"), ("sentiment", None, "赵六"), ("restore", "beta", "王五")]
    assert corrections.history(engine, mid)[-1] == r


def test_refused_corrections_write_nothing(engine, mid) -> None:
    before = brand_rows(engine, mid)
    cases = [
        (lambda: corrections.relabel(engine, 10**9, "negative", by="王五", at=AT), "not_found", "no such mention"),
        (lambda: corrections.relabel(engine, mid, "angry", by="王五", at=AT), "invalid", "'angry'"),
        (lambda: corrections.relabel(engine, mid, "negative", by="  ", at=AT), "invalid", "by"),
        (lambda: corrections.relabel(engine, mid, "negative", by="x" * 201, at=AT), "invalid", "at most 200"),
        (lambda: corrections.relabel(engine, mid, "negative", by="王五", at=AT, note="n" * 2001), "invalid", "note"),
        (lambda: corrections.mark_irrelevant(engine, mid, "gamma", by="王五", at=AT), "invalid", "'gamma'"),
        (lambda: corrections.restore(engine, mid, "acme", by="王五", at=AT), "conflict", "not marked"),
    ]
    for call, reason, needle in cases:
        with pytest.raises(CorrectionError) as info:
            call()
        assert info.value.reason == reason and needle in str(info.value), str(info.value)
        assert str(info.value).startswith("mention ") and "\n" not in str(info.value)
    corrections.mark_irrelevant(engine, mid, "acme", by="王五", at=AT)
    with pytest.raises(CorrectionError, match="already marked irrelevant") as info:
        corrections.mark_irrelevant(engine, mid, "acme", by="王五", at=AT)
    assert info.value.reason == "conflict"
    assert brand_rows(engine, mid) == {k: v for k, v in before.items() if k != "acme"}
    assert [h.kind for h in corrections.history(engine, mid)] == ["irrelevant"]
    with pytest.raises(ValueError, match="timezone-aware"):
        corrections.relabel(engine, mid, "negative", by="王五", at=AT.replace(tzinfo=None))


def test_the_log_is_checked_by_the_database_too(engine, mid) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # a relabel without a label
        conn.execute(mention_corrections.insert().values(mention_id=mid, kind="sentiment", actor="x", note="",
                                                         at=AT))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(mention_corrections.insert().values(mention_id=mid, kind="delete", brand="acme", actor="x",
                                                         note="", at=AT))


def test_labelled_texts_latest_relabel_wins(engine, mid, make_mention) -> None:
    with engine.begin() as conn:
        insert_mentions(conn, [make_mention("m3", text="这家店一般般吧", label="positive")])
        m3 = int(conn.execute(sa.select(mentions.c.id).where(mentions.c.external_id == "m3")).scalar_one())
    corrections.relabel(engine, mid, "negative", by="王五", at=AT)
    corrections.relabel(engine, m3, "neutral", by="王五", at=AT)
    corrections.mark_irrelevant(engine, mid, "beta", by="王五", at=AT)
    corrections.relabel(engine, mid, "positive", by="赵六", at=AT + timedelta(minutes=1))
    assert corrections.labelled_texts(engine) == [("阿克米和贝塔联名 太棒了", "positive"),
                                                  ("这家店一般般吧", "neutral")]


def test_deleting_a_mention_deletes_its_corrections(engine, mid) -> None:
    corrections.relabel(engine, mid, "negative", by="王五", at=AT)
    with engine.begin() as conn:  # what retention does
        conn.execute(mentions.delete().where(mentions.c.id == mid))
    assert corrections.history(engine, mid) == []


def test_concurrent_marks_of_one_brand_record_exactly_one(db_url: str, engine, mid) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    results: list[str] = []
    barrier = threading.Barrier(len(engines))

    def mark(e: sa.Engine, i: int) -> None:
        barrier.wait()
        try:
            corrections.mark_irrelevant(e, mid, "beta", by=f"analyst{i}", at=AT)
            results.append("ok")
        except CorrectionError as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=mark, args=(e, i)) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert sorted(results) == ["conflict", "conflict", "conflict", "ok"]
    assert [h.kind for h in corrections.history(engine, mid)] == ["irrelevant"]


def test_0003_upgrade_keeps_stored_mentions_and_their_brand_rows(db_url: str, make_mention) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            insert_mentions(conn, [make_mention(f"m{i}", brands=("acme", "beta")) for i in range(3)])
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(mention_brands)).scalar() == 6
            assert bucket_counts(conn, "beta", *HOUR, 3600) == {int(T0.timestamp()): {"neutral": 3}}
            first = int(conn.execute(sa.select(sa.func.min(mentions.c.id))).scalar_one())
        corrections.mark_irrelevant(engine, first, "beta", by="王五", at=AT)
        with engine.connect() as conn:
            assert bucket_counts(conn, "beta", *HOUR, 3600) == {int(T0.timestamp()): {"neutral": 2}}
    finally:
        engine.dispose()
