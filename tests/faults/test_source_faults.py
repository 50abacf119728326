"""Every way a feed server fails, through the real Pipeline on a real store.

For each fault the same story: the source delivered items 0-4; then the server breaks; the
polls fail with one clear line of error (retryable or not, as the fault deserves), logged
*once* however often the source is polled; the server recovers with items 0-9; the pipeline
logs one "recovered" line and the source resumes from its cursor: items 5-9 are stored, each
of 0-9 exactly once, and a further poll stores nothing.

The servers are real sockets on 127.0.0.1 (tests/faults/servers.py): they stall, trickle a
byte at a time (headers too), stream 2 GB without allocating it, send a gzip bomb, loop
redirects, serve HTML or a cut-off document. Back-off (Retry-After honoured) is in
test_backoff.py; the daemon-level view (other sources keep running) in test_daemon_faults.py.
"""

from __future__ import annotations

import gzip
import re
import time
import tracemalloc
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.errors import FetchError, ParseError
from monitor.store import schema
from sources import build_source
from tests.faults.helpers import feed
from tests.faults.servers import Behaviour, FaultServer, drip, endless, redirect_loop, respond, stall

TIMEOUT = 0.4  # seconds per socket operation; a whole transfer may take 3x that
MAX_BYTES = 1024 * 1024
FEED_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
NOT_A_FEED = "not a readable feed|not an RSS or Atom feed"
HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"


def good(ids: range) -> Behaviour:
    return respond(200, feed(ids), FEED_TYPE)


def retry_at(clock: Any, seconds: int) -> str:
    return format_datetime(clock.now() + timedelta(seconds=seconds), usegmt=True)


# name -> (the broken server, words the error must say, FetchError.retryable or None for a ParseError)
FAULTS: dict[str, tuple[Any, str, bool | None]] = {
    "timeout": (lambda clock: stall(5, good(range(5))), r"timed out after 0\.4s", True),
    "slow-drip-body": (lambda clock: drip(feed(range(5)), every=0.1, headers=FEED_TYPE),
                       r"transfer took longer than 1\.2s", True),
    "slow-drip-headers": (lambda clock: drip(feed(range(5)), every=0.1, headers_too=True),
                          r"transfer took longer than 1\.2s", True),
    "http-429-retry-after": (lambda clock: respond(429, b"slow down", {"Retry-After": "120"}),
                             "HTTP 429", True),
    "http-503-retry-after-date": (lambda clock: respond(503, b"busy", {"Retry-After": retry_at(clock, 300)}),
                                  "HTTP 503", True),
    "http-500": (lambda clock: respond(500, b"oops"), "HTTP 500", True),
    "redirect-loop": (lambda clock: redirect_loop(), "more than 5 redirects", False),
    "2GB-declared": (lambda clock: endless(declared=2 * 2**30), "Content-Length 2147483648", False),
    "2GB-chunked": (lambda clock: endless(), f"larger than max_bytes={MAX_BYTES}", False),
    "gzip-bomb": (lambda clock: respond(200, gzip.compress(b"\0" * (64 * 2**20), 9),
                                        {"Content-Encoding": "gzip", **FEED_TYPE}),
                  "after decompression", False),
    "truncated-xml": (lambda clock: respond(200, feed(range(5))[:70], FEED_TYPE), NOT_A_FEED, None),
    "html-as-feed": (lambda clock: respond(200, HTML, {"Content-Type": "text/html"}),
                     NOT_A_FEED, None),
}


def rss(server: FaultServer, tmp_path: Path, clock: Any, sid: str = "news", path: str = "/feed") -> Any:
    return build_source(sid, "rss", {"url": server.url(path), "timeout": TIMEOUT, "max_bytes": MAX_BYTES},
                        base_dir=tmp_path, clock=clock)


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_is_logged_once_then_the_source_resumes_without_loss_or_repeats(
        name: str, rig: Any, fault_server: FaultServer, tmp_path: Path) -> None:
    make, words, retryable = FAULTS[name]
    source = rss(fault_server, tmp_path, rig.clock)
    fault_server.route("/feed", good(range(5)))
    assert rig.pipeline.poll(source).stored == 5

    fault_server.route("/feed", make(rig.clock))
    failed = []
    for _ in range(2):
        started = time.monotonic()
        failed.append(rig.pipeline.poll(source))
        # the whole transfer is bounded: three timeouts at most, never the fault's own pace
        assert time.monotonic() - started < TIMEOUT * 3 + 1.0, f"{name}: a poll took too long"
        rig.clock.advance(seconds=7)  # time passes between polls (a Retry-After date counts down)
    assert [o.ok for o in failed] == [False, False]
    assert [o.consecutive_failures for o in failed] == [1, 2]
    err = failed[0].error
    assert re.search(words, str(err)), str(err)
    if retryable is None:
        assert isinstance(err, ParseError)
    else:
        assert isinstance(err, FetchError) and err.retryable is retryable
    lines = rig.log_lines("news", "poll failed")
    assert len(lines) == 1, f"{name}: one line when the failure starts, not one per poll: {lines}"
    assert "\n" not in lines[0] and re.search(words, lines[0])
    assert rig.metric("brandpulse_poll_errors_total", source="news",
                      reason="parse" if retryable is None else "fetch") == 2

    fault_server.route("/feed", good(range(10)))
    back = rig.pipeline.poll(source)
    assert back.ok and back.stored == 5, back
    assert len(rig.log_lines("news", "recovered")) == 1
    assert rig.pipeline.poll(source).stored == 0
    assert rig.ids("news") == {f"n{i}": 1 for i in range(10)}
    assert len(rig.log_lines("news", "poll failed")) == 1
    source.close()


def test_a_feed_cut_off_mid_entry_delivers_the_whole_entries_and_the_rest_later(
        rig: Any, fault_server: FaultServer, tmp_path: Path) -> None:
    source = rss(fault_server, tmp_path, rig.clock)
    fault_server.route("/feed", good(range(5)))
    assert rig.pipeline.poll(source).stored == 5
    whole = feed(range(10))
    fault_server.route("/feed", respond(200, whole[: whole.index(b"<guid>n7</guid>") + 30], FEED_TYPE))
    cut = rig.pipeline.poll(source)
    assert cut.ok and cut.stored == 2  # 5 and 6; 7 is incomplete and held back, 8-9 never arrived
    fault_server.route("/feed", good(range(10)))
    assert rig.pipeline.poll(source).stored == 3
    assert rig.ids("news") == {f"n{i}": 1 for i in range(10)}
    source.close()


def test_connection_refused_until_the_server_listens(rig: Any, tmp_path: Path) -> None:
    server = FaultServer(listening=False)  # the port is bound, nobody accepts: ECONNREFUSED
    try:
        source = rss(server, tmp_path, rig.clock)
        outcomes = [rig.pipeline.poll(source) for _ in range(3)]
        assert [o.ok for o in outcomes] == [False] * 3
        err = outcomes[0].error
        assert isinstance(err, FetchError) and err.retryable and "cannot connect" in str(err)
        assert len(rig.log_lines("news", "poll failed")) == 1
        server.route("/feed", good(range(4)))
        server.listen()
        assert rig.pipeline.poll(source).stored == 4
        assert len(rig.log_lines("news", "recovered")) == 1
        assert rig.ids("news") == {f"n{i}": 1 for i in range(4)}
        source.close()
    finally:
        server.stop()


def test_dns_failure_is_retryable_and_logged_once(rig: Any, tmp_path: Path) -> None:
    source = build_source("news", "rss", {"url": "http://feed.brandpulse.invalid/rss.xml", "timeout": TIMEOUT},
                          base_dir=tmp_path, clock=rig.clock)
    outcomes = [rig.pipeline.poll(source) for _ in range(3)]
    err = outcomes[0].error
    assert isinstance(err, FetchError) and err.retryable and "cannot connect" in str(err)
    assert "feed.brandpulse.invalid" in str(err)
    assert [o.consecutive_failures for o in outcomes] == [1, 2, 3]
    assert len(rig.log_lines("news", "poll failed")) == 1
    source.close()


def test_a_2gb_response_is_cut_at_the_cap_without_reading_or_holding_it(
        rig: Any, fault_server: FaultServer, tmp_path: Path) -> None:
    """Neither body is allocated: the declared one is refused from its Content-Length, the
    chunked one after max_bytes; the server gets to write little more than the cap, and the
    poll's own allocations stay within a small multiple of it."""
    fault_server.route("/declared", endless(declared=2 * 2**30))
    fault_server.route("/chunked", endless())
    for path in ("/declared", "/chunked"):
        source = rss(fault_server, tmp_path, rig.clock, sid=path.strip("/"), path=path)
        tracemalloc.start()
        try:
            outcome = rig.pipeline.poll(source)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        source.close()
        assert not outcome.ok and "max_bytes" in str(outcome.error)
        assert peak < 4 * MAX_BYTES, f"{path}: the poll allocated {peak / 2**20:.1f} MiB"
        time.sleep(0.2)  # let the server notice the hang-up
        with fault_server.lock:
            sent = fault_server.sent[path]
        assert sent < 16 * MAX_BYTES, f"{path}: the server wrote {sent / 2**20:.0f} MiB before we hung up"


@pytest.mark.parametrize("encoding", ["gb18030", "big5"])
@pytest.mark.parametrize("declared, content_type", [
    (True, "text/xml; charset=iso-8859-1"),      # the server's default charset contradicts the document
    (True, "application/rss+xml; charset=utf-8"),
    (False, "application/rss+xml"),               # no label anywhere
    (False, "text/xml; charset=iso-8859-1"),      # only a wrong label
], ids=["wrong-http-charset", "utf8-label", "no-label", "only-wrong-label"])
def test_chinese_feeds_with_wrong_or_missing_charset_are_read_correctly(
        rig: Any, fault_server: FaultServer, tmp_path: Path, encoding: str, declared: bool, content_type: str) -> None:
    """Mojibake matches no brand: every mention of the feed would be dropped without a word."""
    brand = "阿克米咖啡"
    fault_server.route("/feed", respond(200, feed(range(6), encoding=encoding, declare=declared, brand=brand),
                                        {"Content-Type": content_type}))
    source = rss(fault_server, tmp_path, rig.clock)
    outcome = rig.pipeline.poll(source)
    assert outcome.ok and outcome.stored == 6, (outcome, dict(outcome.dropped))
    with rig.engine.connect() as conn:
        texts = conn.execute(sa.select(schema.mentions.c.text)).scalars().all()
    news = "快讯" if encoding == "gb18030" else "快訊"
    assert sorted(texts) == sorted(f"{brand}{news}{i}\n" for i in range(6)) or all(
        t.startswith(f"{brand}{news}") for t in texts), texts[:2]
    source.close()
