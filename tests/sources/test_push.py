"""The push source: options, signature and window checks, body parsing, and polling its spool
in a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.api_push import StoreSpool
from monitor.clock import FixedClock
from monitor.errors import ConfigError, FetchError, ParseError
from monitor.store import push as store_push
from monitor.store import schema
from monitor.store.engine import begin_immediate, make_engine
from monitor.store.migrate import upgrade
from sources import build_source
from sources.push import PushOptions, PushRefused, PushSource, sign

SECRET = "push-secret-5b9e1f"
ENV = {"BP_TEST_PUSH_SECRET": SECRET}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make(clock: FixedClock | None = None, **options) -> PushSource:
    opts = PushOptions.model_validate({"secret_env": "BP_TEST_PUSH_SECRET",
                                       "fields": {"id": "id", "text": "text", "time": "time"}, **options})
    return PushSource("tool", opts, base_dir=Path("."), clock=clock or FixedClock(NOW), environ=ENV)


def signed(body: bytes, at: datetime = NOW, secret: str = SECRET) -> tuple[str, str, bytes]:
    ts = str(int(at.timestamp()))
    return ts, sign(secret, ts, body), body


# --- options ------------------------------------------------------------------------------


def test_options_take_presets_durations_and_need_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    opts = PushOptions.model_validate({"secret_env": "X", "preset": "weibo", "window": "2m"})
    assert opts.window == 120 and opts.fields.text == "微博正文" and opts.platform == "weibo"
    with pytest.raises(ValueError, match="between 1 second and 1 day"):
        PushOptions.model_validate({"secret_env": "X", "fields": {"text": "t"}, "window": "0s"})
    with pytest.raises(ConfigError) as exc:
        build_source("tool", "push", {"fields": {"text": "t"}}, base_dir=Path("."), clock=FixedClock(NOW))
    assert exc.value.key_path == "secret_env" and "required" in str(exc.value)
    monkeypatch.delenv("BP_TEST_UNSET_SECRET", raising=False)
    with pytest.raises(ConfigError, match="'BP_TEST_UNSET_SECRET' is not set") as exc:
        build_source("tool", "push", {"secret_env": "BP_TEST_UNSET_SECRET", "fields": {"text": "t"}},
                     base_dir=Path("."), clock=FixedClock(NOW))
    assert exc.value.key_path == "secret_env"
    monkeypatch.setenv("BP_TEST_PUSH_SECRET", SECRET)
    source = build_source("tool", "push", {"secret_env": "BP_TEST_PUSH_SECRET", "fields": {"text": "t"}},
                          base_dir=Path("."), clock=FixedClock(NOW))
    assert isinstance(source, PushSource) and SECRET not in repr(source)


# --- verifying ------------------------------------------------------------------------------


def test_a_good_signature_within_the_window_is_accepted_at_both_edges() -> None:
    source = make(window=300)
    body = b'{"text": "hello"}'
    digest, ts = source.verify(*signed(body))
    assert ts == int(NOW.timestamp()) and len(digest) == 64
    source.verify(*signed(body, NOW - timedelta(seconds=300)))
    source.verify(*signed(body, NOW + timedelta(seconds=300)))
    ts, sig, _ = signed(body)
    source.verify(ts, sig.upper().replace("SHA256=", "sha256="), body)  # hex case does not matter


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "other timestamp", "no signature",
                                  "not hex", "no timestamp", "bad timestamp", "stale", "future"])
def test_refusals_say_why_without_the_secret(case: str) -> None:
    source = make(window=300)
    body = b'[{"text": "hello"}]'
    ts, sig, _ = signed(body)
    if case == "wrong secret":
        sig = sign("another-secret", ts, body)
    elif case == "tampered body":
        body = b'[{"text": "hellO"}]'
    elif case == "other timestamp":
        ts = str(int(ts) + 1)
    elif case == "no signature":
        sig = ""
    elif case == "not hex":
        sig = "sha256=" + "z" * 64
    elif case == "no timestamp":
        ts = ""
    elif case == "bad timestamp":
        ts = "2026-03-02T09:00:00Z"
    elif case == "stale":
        ts, sig, _ = signed(body, NOW - timedelta(seconds=301))
    elif case == "future":
        ts, sig, _ = signed(body, NOW + timedelta(seconds=301))
    with pytest.raises(PushRefused) as exc:
        source.receive(ts, sig, body)
    err = exc.value
    assert err.reason == ("timestamp" if case in ("stale", "future") else "signature")
    assert SECRET not in str(err) and "\n" not in str(err) and "source=tool" in str(err)
    if case == "stale":
        assert "301s old" in str(err)
    if case == "future":
        assert "in the future" in str(err)


# --- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("body, count", [
    (b'{"id": "1", "text": "one"}', 1),
    (b'[{"id": "1", "text": "one"}, {"id": "2", "text": "two"}]', 2),
    (b'{"id": "1", "text": "one"}\n\n{"id": "2", "text": "two"}\n{"id": "3", "text": "three"}\n', 3),
    ('\ufeff[{"id": "1", "text": "一"}]'.encode(), 1),
])
def test_an_object_an_array_or_json_lines(body: bytes, count: int) -> None:
    received = make().receive(*signed(body))
    assert len(received.payloads) == count and received.rejected == []
    assert [json.loads(p)["id"] for p in received.payloads] == [str(i) for i in range(1, count + 1)]


def test_list_key_and_bad_records_reported_one_by_one() -> None:
    source = make(list_key="data.list")
    body = json.dumps({"data": {"list": [{"id": "1", "text": "ok"}, {"id": "2"}, "str",
                                         {"id": "4", "text": "t", "time": "yesterday-ish"}]}}).encode()
    received = source.receive(*signed(body))
    assert [json.loads(p)["id"] for p in received.payloads] == ["1"]
    assert len(received.rejected) == 3
    assert "entry '[1]'" in received.rejected[0] and "text column 'text'" in received.rejected[0]
    assert "expected an object" in received.rejected[1]
    assert "time column 'time'" in received.rejected[2]


@pytest.mark.parametrize("body, needle", [
    (b"", "empty body"),
    (b'{"text": "no end"', "invalid JSON"),
    (b'{"text": "a"}\n{"text": broken}\n', "invalid JSON on line 2"),
    (b"42", "got int"),
    (b'[{"id": "1"}]', "no usable record in the body (1 records): entry '[0]'"),
    ("正文".encode("gb18030"), "not UTF-8"),
])
def test_unreadable_bodies_are_parse_errors(body: bytes, needle: str) -> None:
    with pytest.raises(ParseError) as exc:
        make().receive(*signed(body))
    assert needle in str(exc.value) and "\n" not in str(exc.value)


# --- the spool, in a real store ------------------------------------------------------------


@pytest.fixture
def engine(db_url: str):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def spool(engine: sa.Engine, payloads: list[dict], signature: str, at: datetime = NOW) -> None:
    with begin_immediate(engine) as conn:
        store_push.accept(conn, "tool", signature, at + timedelta(minutes=10),
                          [json.dumps(p) for p in payloads], at)


def test_poll_hands_over_the_spool_in_order_and_consumes_what_a_cursor_covers(engine: sa.Engine) -> None:
    source = make(max_items_per_poll=2)
    with pytest.raises(FetchError, match="no spool"):
        source.poll(None)
    source.attach(StoreSpool(engine))
    assert source.poll(None).items == []
    spool(engine, [{"id": "a", "text": "one", "time": "2026-03-01T08:00:00+00:00"},
                   {"id": "b", "text": "two"}, {"id": "c", "text": "three"}], "1" * 64)
    first = source.poll(None)
    assert [i.external_id for i in first.items] == ["a", "b"] and first.more
    assert first.items[0].published_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert first.items[1].published_at == NOW  # no time column: when it was received
    assert first.items[1].extra["origin"].startswith("push#")
    second = source.poll(first.cursor)
    assert [i.external_id for i in second.items] == ["c"] and not second.more
    with engine.connect() as conn:  # the first poll's rows are gone, the second's wait for its commit
        assert store_push.pending(conn, "tool") == 1
    third = source.poll(second.cursor)
    assert third.items == [] and third.cursor == second.cursor
    with engine.connect() as conn:
        assert store_push.pending(conn, "tool") == 0


def test_a_record_the_field_map_no_longer_reads_is_a_row_error_not_a_stall(engine: sa.Engine) -> None:
    spool(engine, [{"id": "a", "body": "old field name"}, {"id": "b", "text": "fine"}], "2" * 64)
    source = make()
    source.attach(StoreSpool(engine))
    result = source.poll(None)
    assert [i.external_id for i in result.items] == ["b"]
    assert len(result.errors) == 1 and "entry '#" in str(result.errors[0])


def test_a_signature_is_refused_twice_across_engines_until_it_expires(engine: sa.Engine, db_url: str) -> None:
    spool(engine, [{"text": "x"}], "3" * 64)
    other = make_engine(db_url)  # another process or replica on the same database
    try:
        with pytest.raises(store_push.Replay):
            spool(other, [{"text": "x"}], "3" * 64)
        with other.connect() as conn:
            assert store_push.pending(conn, "tool") == 1  # the replay stored nothing
        spool(other, [{"text": "x"}], "3" * 64, at=NOW + timedelta(minutes=11))  # expired and pruned
        with other.connect() as conn:
            rows = conn.execute(sa.select(schema.push_signatures.c.expires_at)).scalars().all()
        assert rows == [NOW + timedelta(minutes=21)]
    finally:
        other.dispose()


def test_spool_ids_are_never_reused_after_the_spool_was_emptied(engine: sa.Engine) -> None:
    """The cursor is the last id: an id handed out again would be skipped, then deleted."""
    source = make()
    source.attach(StoreSpool(engine))
    spool(engine, [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}], "4" * 64)
    first = source.poll(None)
    empty = source.poll(first.cursor)  # consumes a and b: the table is empty now
    with engine.connect() as conn:
        assert store_push.pending(conn, "tool") == 0
    spool(engine, [{"id": "c", "text": "three"}], "5" * 64)
    assert [i.external_id for i in source.poll(empty.cursor).items] == ["c"]
