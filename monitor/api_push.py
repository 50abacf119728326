"""Push sources over HTTP: ``POST /api/v1/push/{source_id}``, and the spool their polls read.

    POST /api/v1/push/tool-push
    X-BrandPulse-Timestamp: 1767225600
    X-BrandPulse-Signature: sha256=<hex HMAC-SHA256(secret, "1767225600." + body)>
    [{"id": "1", "text": "..."}, ...]          (or one object, or JSON lines)
      -> 202 {"ok": true, "accepted": 2, "rejected": ["entry '[1]': text column 'text' is missing or empty"]}

The route is "public" in the route table: the signature is the authentication, checked by the
source itself (sources/push.py). Answers: 202 once the records are committed to ``push_items``
(a crash after that loses nothing; the source's next poll hands them to the pipeline), 401 for a
bad or missing signature, a timestamp outside the window or a replay, 400 for a body without a
usable record, 413 over the source's ``max_bytes``, 404 for an id that is not a push source.
Every refusal is one log line naming source, reason and client, never the secret.

Wiring, not a source: ``sources`` must not import the store, so the daemon attaches a
:class:`StoreSpool` to each push source (:func:`attach_spools`, at start and on reload).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from monitor.api import HttpError, Response, Route, _json
from monitor.errors import ParseError
from monitor.store import push as store_push
from monitor.store.engine import begin_immediate
from sources.base import Source
from sources.push import PushRefused, PushSource, SpoolRow

if TYPE_CHECKING:
    from monitor.api import Api

log = logging.getLogger(__name__)

PUSH_PATTERN = re.compile(r"^/api/v1/push/([^/]+)$")
SIGNATURES_KEPT_WINDOWS = 2  # a signature is remembered until its timestamp is this many windows old
# (one window would do on one clock; the second covers replicas whose clocks disagree)


class StoreSpool:
    """The store side of :class:`sources.push.Spool`: ``push_items`` rows of one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def read(self, source_id: str, after: int, limit: int) -> list[SpoolRow]:
        with self.engine.connect() as conn:
            rows = store_push.read_after(conn, source_id, after, limit)
        return [SpoolRow(int(r.id), str(r.payload), r.received_at) for r in rows]

    def consume(self, source_id: str, upto: int) -> None:
        with self.engine.begin() as conn:
            store_push.consume(conn, source_id, upto)


def attach_spools(sources: Iterable[tuple[Source, float]], engine: sa.Engine) -> None:
    """Give every push source among ``sources`` the store's spool (idempotent)."""
    spool = StoreSpool(engine)
    for source, _ in sources:
        if isinstance(source, PushSource) and source.spool is None:
            source.attach(spool)


def push_routes(api: Api) -> list[Route]:
    return [Route("POST", PUSH_PATTERN, lambda environ, sid: receive(api, environ, sid), "public",
                  "push mentions to a push source (HMAC-signed; see X-BrandPulse-Signature)")]


def _find(api: Api, source_id: str) -> PushSource | None:
    for source, _ in api.daemon.parts.sources:  # parts are swapped whole by a reload
        if source.id == source_id and isinstance(source, PushSource):
            return source
    return None


def _body(environ: dict[str, Any], source: PushSource, refuse: Any) -> bytes:
    raw_length = environ.get("CONTENT_LENGTH") or ""
    if not raw_length.strip().isdigit():
        raise refuse(400, "length", "a Content-Length header is required (chunked bodies are not accepted)")
    length, cap = int(raw_length), source.options.max_bytes
    if length > cap:  # refused before reading a byte of it
        raise refuse(413, "size", f"body too large ({length} bytes; this source accepts at most {cap})")
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    if len(body) != length:
        raise refuse(400, "length", f"body ended after {len(body)} of {length} bytes")
    return body


def receive(api: Api, environ: dict[str, Any], source_id: str) -> Response:
    daemon = api.daemon
    client = environ.get("REMOTE_ADDR", "?")
    source = _find(api, source_id)

    def refuse(status: int, reason: str, problem: str) -> HttpError:
        # one line, without the secret or the signature; problem strings never hold either
        log.warning("push refused source=%s reason=%s status=%d client=%s: %s",
                    source_id, reason, status, client, problem)
        return HttpError(status, problem)

    if source is None:
        raise refuse(404, "unknown", f"no push source {source_id!r} (check the URL against the config's sources)")
    body = _body(environ, source, refuse)
    try:
        received = source.receive(environ.get("HTTP_X_BRANDPULSE_TIMESTAMP"),
                                  environ.get("HTTP_X_BRANDPULSE_SIGNATURE"), body)
    except PushRefused as exc:
        raise refuse(401, exc.reason, exc.problem) from None
    except ParseError as exc:
        raise refuse(400, "body", exc.problem) from None
    now = daemon.clock.now()
    kept = received.timestamp + SIGNATURES_KEPT_WINDOWS * source.options.window
    try:
        with begin_immediate(daemon.engine) as conn:
            accepted = store_push.accept(conn, source_id, received.signature, datetime.fromtimestamp(kept, UTC),
                                         received.payloads, now)
    except store_push.Replay:
        raise refuse(401, "replay", "this request was accepted before (same signature): refused as a replay; "
                                    "sign every request with a fresh timestamp") from None
    # committed: from here on a crash loses nothing
    log.info("push accepted source=%s items=%d rejected=%d client=%s", source_id, accepted,
             len(received.rejected), client)
    for problem in received.rejected[:3]:
        log.warning("push source=%s skipped a record: %s", source_id, problem)
    if daemon.scheduler is not None:  # on the replica holding its lease (others wait for the interval);
        daemon.scheduler.poll_now(source_id)  # a poll running now is followed by another
    return _json(202, {"ok": True, "accepted": accepted, "rejected": received.rejected})
