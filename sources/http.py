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
import time
import zlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
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


class HttpFetcher:
    """Conditional, size-capped GETs; one httpx connection pool per fetcher."""

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
        deadline = time.monotonic() + self.timeout * TOTAL_TIMEOUT_FACTOR

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

        try:
            with self._client.stream("GET", url, headers=headers) as resp:
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
        except httpx.TimeoutException as exc:
            raise fail(f"timed out after {self.timeout:g}s ({type(exc).__name__})", retryable=True) from exc
        except httpx.TooManyRedirects as exc:
            raise fail(f"more than {MAX_REDIRECTS} redirects", retryable=False) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise fail(f"cannot fetch this URL: {exc}", retryable=False) from exc
        except httpx.ConnectError as exc:
            raise fail(f"cannot connect: {exc}", retryable=True) from exc
        except httpx.HTTPError as exc:  # dropped connection, protocol error mid-body, ...
            raise fail(f"{type(exc).__name__}: {exc}", retryable=True) from exc

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
