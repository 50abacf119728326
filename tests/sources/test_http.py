from __future__ import annotations

import gzip
import socket
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitor import __version__
from monitor.errors import FetchError
from sources.http import HttpFetcher, check_http_url, parse_retry_after, redact_url


@pytest.fixture
def fetcher():
    f = HttpFetcher(timeout=2.0, max_bytes=64 * 1024)
    yield f
    f.close()


def test_fetch_returns_body_validators_and_sends_user_agent(http_server, fetcher):
    http_server.route(
        "/feed",
        body=b"<rss/>",
        headers={
            "ETag": '"v1"',
            "Last-Modified": "Mon, 02 Mar 2026 08:00:00 GMT",
            "Content-Type": "application/rss+xml",
        },
    )
    res = fetcher.fetch(http_server.url("/feed"))
    assert (res.status, res.content, res.etag) == (200, b"<rss/>", '"v1"')
    assert res.last_modified == "Mon, 02 Mar 2026 08:00:00 GMT"
    assert res.content_type == "application/rss+xml"
    ua = http_server.requests_to("/feed")[0].headers["User-Agent"]
    assert ua.startswith(f"BrandPulse/{__version__} ")


def test_conditional_get_sends_validators_and_304_has_no_content(http_server, fetcher):
    def handler(rec):
        if rec.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"ETag": '"v1"'}, b"body"

    http_server.route("/c", handler=handler)
    first = fetcher.fetch(http_server.url("/c"))
    second = fetcher.fetch(
        http_server.url("/c"), etag=first.etag, last_modified="Mon, 02 Mar 2026 08:00:00 GMT"
    )
    assert first.content == b"body"
    assert second.status == 304 and second.content is None and second.etag == '"v1"'
    assert second.last_modified == "Mon, 02 Mar 2026 08:00:00 GMT"  # kept when the 304 omits it
    sent = http_server.requests_to("/c")[1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 02 Mar 2026 08:00:00 GMT"


def test_body_over_the_cap_is_refused(http_server, fetcher):
    http_server.route("/big", body=b"x" * (64 * 1024 + 1))
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(http_server.url("/big"), source_id="news")
    assert exc.value.retryable is False
    assert "max_bytes=65536" in str(exc.value) and "source=news" in str(exc.value)


def test_body_exactly_at_the_cap_is_accepted(http_server, fetcher):
    http_server.route("/edge", body=b"y" * (64 * 1024))
    assert len(fetcher.fetch(http_server.url("/edge")).content or b"") == 64 * 1024


def test_gzip_bomb_is_stopped_by_counting_decompressed_bytes(http_server, fetcher):
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 64 * 1024  # small on the wire: only the decompressed size is over the cap
    http_server.route("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    started = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(http_server.url("/bomb"))
    assert exc.value.retryable is False
    assert "after decompression" in str(exc.value)
    assert time.monotonic() - started < 2.0


def test_gzip_and_deflate_bodies_are_decoded(http_server, fetcher):
    text = "阿克米咖啡 ".encode() * 500
    http_server.route("/gz", body=gzip.compress(text), headers={"Content-Encoding": "gzip"})
    http_server.route("/zlib", body=zlib.compress(text), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-15)
    http_server.route("/raw", body=raw.compress(text) + raw.flush(), headers={"Content-Encoding": "deflate"})
    for path in ("/gz", "/zlib", "/raw"):
        assert fetcher.fetch(http_server.url(path)).content == text
    assert http_server.requests_to("/gz")[0].headers["Accept-Encoding"] == "gzip, deflate"


def test_corrupt_gzip_is_not_retryable(http_server, fetcher):
    http_server.route("/bad", body=b"\x1f\x8b\x08\x00garbage-not-gzip", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(http_server.url("/bad"))
    assert exc.value.retryable is False and "corrupt gzip" in str(exc.value)


def test_unsupported_content_encoding_is_refused(http_server, fetcher):
    http_server.route("/br", body=b"\x00\x01", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        fetcher.fetch(http_server.url("/br"))


def test_timeout_is_retryable(http_server):
    def slow(rec):
        time.sleep(1.0)
        return 200, {}, b"late"

    http_server.route("/slow", handler=slow)
    f = HttpFetcher(timeout=0.2, max_bytes=1024)
    try:
        with pytest.raises(FetchError) as exc:
            f.fetch(http_server.url("/slow"))
    finally:
        f.close()
    assert exc.value.retryable is True and "timed out after 0.2s" in str(exc.value)


def test_503_with_retry_after_seconds_is_retryable(http_server, fetcher):
    http_server.route("/busy", status=503, body=b"busy", headers={"Retry-After": "120"})
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(http_server.url("/busy"))
    err = exc.value
    assert (err.retryable, err.status, err.retry_after) == (True, 503, 120.0)
    assert "HTTP 503" in str(err) and "retry after 120s" in str(err)


def test_429_with_retry_after_http_date(http_server):
    from monitor.clock import FixedClock

    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    when = format_datetime(clock.now() + timedelta(seconds=90), usegmt=True)
    http_server.route("/limited", status=429, headers={"Retry-After": when})
    f = HttpFetcher(timeout=2.0, max_bytes=1024, clock=clock)
    try:
        with pytest.raises(FetchError) as exc:
            f.fetch(http_server.url("/limited"))
    finally:
        f.close()
    assert exc.value.retryable is True and exc.value.status == 429 and exc.value.retry_after == 90.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_other_4xx_are_not_retryable(http_server, fetcher, status):
    http_server.route("/x", status=status, headers={"Retry-After": "5"})
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(http_server.url("/x"))
    assert (exc.value.retryable, exc.value.status, exc.value.retry_after) == (False, status, None)


def test_connection_refused_is_retryable(fetcher):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(f"http://127.0.0.1:{port}/feed")
    assert exc.value.retryable is True and "cannot connect" in str(exc.value)
    assert exc.value.status is None


def test_redirects_are_followed_up_to_five(http_server, fetcher):
    for i in range(7):
        http_server.route(f"/r{i}", status=302, headers={"Location": f"/r{i + 1}"})
    http_server.route("/r7", body=b"end")
    res = fetcher.fetch(http_server.url("/r2"))  # five hops: r2 -> ... -> r7
    assert res.content == b"end" and res.url == http_server.url("/r7")
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(http_server.url("/r1"))  # six hops
    assert exc.value.retryable is False and "more than 5 redirects" in str(exc.value)


def test_credentials_in_the_url_never_appear_in_errors(http_server, fetcher):
    http_server.route("/private", status=404)
    url = http_server.url("/private").replace("http://", "http://bob:s3cret@")
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(url)
    assert "s3cret" not in str(exc.value) and "127.0.0.1" in str(exc.value)


def test_helpers():
    assert redact_url("https://u:p@example.com:8443/a?b=1") == "https://example.com:8443/a?b=1"
    assert parse_retry_after("  30 ", now=0) == 30.0
    assert parse_retry_after("soon", now=0) is None
    assert (
        parse_retry_after(
            "Mon, 02 Mar 2026 09:00:00 GMT", now=datetime(2026, 3, 2, 9, 1, tzinfo=UTC).timestamp()
        )
        == 0.0
    )
    assert check_http_url("https://example.com/feed") == "https://example.com/feed"
    for bad in ("ftp://example.com/x", "/etc/passwd", "http:///nohost", "file:///etc/passwd"):
        with pytest.raises(ValueError):
            check_http_url(bad)
