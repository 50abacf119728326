"""The daemon's small HTTP server: /metrics, /healthz, /readyz and a read-only JSON API.

Errors are rendered in one place as ``{"ok": false, "error": ..., "status": ...}``. Write
endpoints (ack/resolve over HTTP) wait for authentication (see the hardening issue); until
then acknowledging is done with ``brandpulse alerts ack``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alerts import records
from monitor.errors import BrandPulseError

if TYPE_CHECKING:
    from monitor.daemon import Daemon

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(status: int, body: Any) -> tuple[int, str, bytes]:
    return status, "application/json; charset=utf-8", json.dumps(
        body, ensure_ascii=False, default=_json_default).encode()


class Api:
    """The WSGI application. ``Api(daemon)(environ, start_response)``."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, str, bytes]]]] = [
            ("GET", re.compile(r"^/metrics$"), self.metrics),
            ("GET", re.compile(r"^/healthz$"), self.healthz),
            ("GET", re.compile(r"^/readyz$"), self.readyz),
            ("GET", re.compile(r"^/api/v1/alerts$"), self.list_alerts),
            ("GET", re.compile(r"^/api/v1/alerts/(\d+)$"), self.get_alert),
        ]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        try:
            status, ctype, body = self.dispatch(method, path, environ)
        except HttpError as exc:
            status, ctype, body = _json(exc.status, {"ok": False, "error": str(exc), "status": exc.status})
        except Exception:
            log.exception("api: %s %s failed", method, path)
            status, ctype, body = _json(500, {"ok": False, "error": "internal error", "status": 500})
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body] if method != "HEAD" else []

    def dispatch(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        allowed = False
        for route_method, pattern, handler in self.routes:
            m = pattern.match(path)
            if m:
                allowed = True
                if method in (route_method, "HEAD" if route_method == "GET" else route_method):
                    return handler(environ, *m.groups())
        if allowed:
            raise HttpError(405, f"method {method} not allowed on {path}")
        raise HttpError(404, f"no such endpoint: {path}")

    # --- endpoints ------------------------------------------------------------------------

    def metrics(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest(self.daemon.registry)

    def healthz(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        return _json(200, {"ok": True})

    def readyz(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        ready, detail = self.daemon.ready()
        if not ready:
            raise HttpError(503, detail)
        return _json(200, {"ok": True, "detail": detail})

    def list_alerts(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        from urllib.parse import parse_qs

        q = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            raise HttpError(400, f"limit must be an integer, got {q['limit']!r}") from None
        if not 1 <= limit <= 1000:
            raise HttpError(400, f"limit must be between 1 and 1000, got {limit}")
        with self.daemon.engine.connect() as conn:
            try:
                alerts = records.list_alerts(conn, state=q.get("state"), brand=q.get("brand"), limit=limit)
            except BrandPulseError as exc:
                raise HttpError(400, str(exc)) from None
        return _json(200, {"ok": True, "alerts": [asdict(a) for a in alerts]})

    def get_alert(self, environ: dict[str, Any], alert_id: str) -> tuple[int, str, bytes]:
        with self.daemon.engine.connect() as conn:
            try:
                alert = records.get_alert(conn, int(alert_id))
            except BrandPulseError as exc:
                raise HttpError(404, str(exc)) from None
            events = records.alert_events(conn, int(alert_id))
        return _json(200, {"ok": True, "alert": asdict(alert), "events": events})


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # access logs at DEBUG only
        log.debug("api: %s %s", self.address_string(), format % args)


class ApiServer:
    """Serves :class:`Api` on a background thread. Port 0 picks a free port (see ``address``)."""

    def __init__(self, daemon: Daemon, host: str, port: int) -> None:
        self.httpd = make_server(host, port, Api(daemon), server_class=_ThreadingServer,
                                 handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="bp-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
