"""The one HTTP client every source uses: timeouts, User-Agent, conditional GET, size cap.

    fetcher = HttpFetcher(timeout=20, max_bytes=20 * 2**20)
    res = fetcher.fetch(url, etag=cursor.get("etag"), source_id="news")
    if res.content is None: ...      # 304 Not Modified
    fetcher.close()

Every failure becomes a FetchError: ``retryable`` is True for network trouble (refused,
DNS, timeout, dropped connection), 429 and 5xx (with ``retry_after`` from Retry-After), and
False for other 4xx, too many redirects, bodies over the cap and undecodable bodies.

Bodies are decompressed here, not by httpx, so the cap counts *decompressed* bytes and a
decompression bomb is stopped after at most ``max_bytes + 1`` bytes of output.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from monitor import __version__, defaults
from monitor.clock import Clock, SystemClock
from monitor.errors import FetchError

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
# The whole transfer (headers and body) must finish within this many ``timeout``s; the
# per-operation timeout alone would let a server trickle one byte per 19 s forever.
TOTAL_TIMEOUT_FACTOR = 3.0
RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True)
class FetchResult:
    status: int
    content: bytes | None  # None on 304 Not Modified
    etag: str | None
    last_modified: str | None
    content_type: str | None
    url: str  # the final URL, after redirects


def check_http_url(value: str) -> str:
    """Validator for options: an absolute http(s) URL with a host."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def redact_url(url: str) -> str:
    """The URL as it may appear in logs and errors: user:password@ removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        return None
    return max(0.0, when.timestamp() - now)


class _Decoder:
    """Content-Encoding decoding with bounded output per call (gzip bomb protection)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._z: zlib._Decompress | None = None  # type: ignore[name-defined]
        self._first = True
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise ValueError(encoding)

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode ``data``, producing at most ``limit`` bytes (more input is then pending)."""
        if self._z is None:
            return data
        if self._first and self.encoding == "deflate":
            self._first = False
            try:  # "deflate" is zlib-wrapped by the RFC but raw deflate on some servers
                return self._z.decompress(data, limit)
            except zlib.error:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._z.decompress(data, limit)

    def pending(self) -> bool:
        return bool(self._z is not None and self._z.unconsumed_tail)


class _Watchdog:
    """Cuts a transfer's connections when the whole transfer outlives ``seconds``.

    httpx's timeouts count per socket operation, and the body loop checks the total deadline
    only once the headers are in: a server sending its status line and headers one byte per
    second would hold the poll (and a worker thread) for hours. Shutting the socket down from
    a timer wakes the blocked read, which then fails; ``expired`` tells why.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace extension: remember every socket the transfer opens."""
        if event != "connection.connect_tcp.complete" or info.get("return_value") is None:
            return
        sock = info["return_value"].get_extra_info("socket")
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)
                if self.expired:  # connected just after the deadline
                    self._cut(sock)

    @staticmethod
    def _cut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._cut(sock)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class HttpFetcher:
    """Conditional, size-capped GETs; one httpx client per fetcher."""

    def __init__(
        self,
        timeout: float = defaults.HTTP_TIMEOUT_SECONDS,
        max_bytes: int = defaults.HTTP_MAX_BYTES,
        user_agent: str | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent or defaults.HTTP_USER_AGENT.format(version=__version__)
        self._clock = clock or SystemClock()
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            # Only encodings _Decoder can bound; httpx would otherwise offer br/zstd too.
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            # A fresh connection per fetch (polls are minutes apart), so the watchdog sees
            # every socket a transfer uses.
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        source_id: str | None = None,
    ) -> FetchResult:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        shown = redact_url(url)
        total = self.timeout * TOTAL_TIMEOUT_FACTOR
        deadline = time.monotonic() + total

        def fail(
            problem: str, *, retryable: bool, status: int | None = None, retry_after: float | None = None
        ) -> FetchError:
            return FetchError(
                problem,
                source_id=source_id,
                url=shown,
                retryable=retryable,
                status=status,
                retry_after=retry_after,
            )

        watchdog = _Watchdog(total)
        try:
            with watchdog, self._client.stream("GET", url, headers=headers,
                                               extensions={"trace": watchdog.trace}) as resp:
                status = resp.status_code
                rh = resp.headers
                if status == 304:
                    log.debug("not modified source=%s url=%s", source_id, shown)
                    return FetchResult(
                        304,
                        None,
                        rh.get("ETag") or etag,
                        rh.get("Last-Modified") or last_modified,
                        rh.get("Content-Type"),
                        str(resp.url),
                    )
                if not 200 <= status < 300:
                    retryable = status >= 500 or status in RETRYABLE_4XX
                    retry_after = parse_retry_after(rh.get("Retry-After"), self._clock.now().timestamp())
                    hint = f", retry after {retry_after:g}s" if retry_after is not None else ""
                    raise fail(
                        f"HTTP {status} {resp.reason_phrase}{hint}",
                        retryable=retryable,
                        status=status,
                        retry_after=retry_after if retryable else None,
                    )
                body = self._read_capped(resp, deadline, fail)
                return FetchResult(
                    status,
                    body,
                    rh.get("ETag"),
                    rh.get("Last-Modified"),
                    rh.get("Content-Type"),
                    str(resp.url),
                )
        except FetchError:
            raise
        except httpx.HTTPError as exc:
            raise self._failure(exc, watchdog.expired, fail) from exc

    def _failure(self, exc: httpx.HTTPError, expired: bool, fail) -> FetchError:  # type: ignore[no-untyped-def]
        """The FetchError for an httpx failure (``expired``: the watchdog cut the transfer)."""
        problem, retryable = f"{type(exc).__name__}: {exc}", True  # dropped connection, protocol error, ...
        if expired:
            problem = f"transfer took longer than {self.timeout * TOTAL_TIMEOUT_FACTOR:g}s"
        elif isinstance(exc, httpx.TimeoutException):
            problem = f"timed out after {self.timeout:g}s ({type(exc).__name__})"
        elif isinstance(exc, httpx.TooManyRedirects):
            problem, retryable = f"more than {MAX_REDIRECTS} redirects", False
        elif isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            problem, retryable = f"cannot fetch this URL: {exc}", False
        elif isinstance(exc, httpx.ConnectError):
            problem = f"cannot connect: {exc}"
        return fail(problem, retryable=retryable)  # type: ignore[no-any-return]

    def _read_capped(self, resp: httpx.Response, deadline: float, fail) -> bytes:  # type: ignore[no-untyped-def]
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        try:
            decoder = _Decoder(encoding)
        except ValueError:
            raise fail(f"unsupported Content-Encoding {encoding!r}", retryable=False) from None
        too_large = f"response larger than max_bytes={self.max_bytes}"
        declared = resp.headers.get("Content-Length", "")
        if decoder.encoding in ("", "identity") and declared.isdigit() and int(declared) > self.max_bytes:
            raise fail(f"{too_large} (Content-Length {declared})", retryable=False)
        chunks: list[bytes] = []
        total = 0
        try:
            for raw in resp.iter_raw():
                out = decoder.feed(raw, self.max_bytes - total + 1)
                total += len(out)
                if total > self.max_bytes or decoder.pending():
                    label = " after decompression" if decoder.encoding not in ("", "identity") else ""
                    raise fail(f"{too_large}{label}", retryable=False)
                chunks.append(out)
                if time.monotonic() > deadline:
                    raise fail(
                        f"transfer took longer than {self.timeout * TOTAL_TIMEOUT_FACTOR:g}s", retryable=True
                    )
        except zlib.error as exc:
            raise fail(f"corrupt {encoding} body: {exc}", retryable=False) from exc
        return b"".join(chunks)
