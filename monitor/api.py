"""The daemon's small HTTP server: /metrics, /healthz, /readyz, the alert API and ack links.

Errors are rendered in one place as ``{"ok": false, "error": ..., "status": ...}``.

Every route declares the least role it needs (public < read < respond < admin) and
:meth:`Api.dispatch` enforces it through :mod:`monitor.auth` before any handler runs: API
clients send ``Authorization: Bearer <token>`` (tokens per role from ``http.auth.*_token_env``),
browsers log in at ``/login`` (:mod:`monitor.web`). Acknowledging and resolving
(``POST /api/v1/alerts/{id}/ack`` and ``/resolve`` with ``{"by": ..., "note": ...}``) need the
respond role; a role no configured token reaches answers 403. The one-click
link in notifications, ``GET /ack/{id}?by=<contact>&sig=<hmac>``, only shows a confirmation
page: link scanners and chat previews fetch links, so only the page's POST acknowledges (as
that contact). Secrets are compared in constant time.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import Enum
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alerts import records
from alerts.render import sign_ack
from monitor.auth import HEADERS_KEY, PRINCIPAL_KEY, Authenticator, AuthError, wants_page
from monitor.errors import AlertStateError, BrandPulseError
from monitor.models import AlertState
from monitor.web.layout import error_page

if TYPE_CHECKING:
    from monitor.daemon import Daemon

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


MAX_BODY_BYTES = 64 * 1024  # request bodies are a name and a note
MAX_ID = 2**63 - 1  # ids are 64-bit integers in the store; a larger one in a path is a 404, not a database error


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []


_REASONS = {200: "OK", 202: "Accepted", 303: "See Other", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
            429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
# Pages show hostile text (mentions): no script runs at all, styles only from our own file,
# forms post only here, and no other site may frame them.
_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'none'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
_HTML_HEADERS = [("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"), ("Content-Security-Policy", _CSP),
                 ("X-Content-Type-Options", "nosniff"),
                 ("Referrer-Policy", "no-referrer")]  # the page's URL holds a signature: keep it out of Referer


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(status: int, body: Any) -> tuple[int, str, bytes]:
    return status, "application/json; charset=utf-8", json.dumps(
        body, ensure_ascii=False, default=_json_default).encode()


Response = tuple[int, str, bytes]  # status, content type, body


@dataclass(frozen=True)
class Route:
    """One endpoint. ``role`` is who may call it: "public" (anyone: metrics, health, signed ack
    links), "read" (analysts), "respond" (ack/resolve/relabel), "admin" (reload, operations)."""

    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Response]
    role: str = "read"
    summary: str = ""  # one line, for the OpenAPI description


class Api:
    """The WSGI application. ``Api(daemon)(environ, start_response)``."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.routes: list[Route] = [
            Route("GET", re.compile(r"^/metrics$"), self.metrics, "public", "Prometheus metrics"),
            Route("GET", re.compile(r"^/healthz$"), self.healthz, "public", "liveness"),
            Route("GET", re.compile(r"^/readyz$"), self.readyz, "public", "readiness"),
            Route("GET", re.compile(r"^/api/v1/alerts$"), self.list_alerts, "read", "list alerts"),
            Route("GET", re.compile(r"^/api/v1/alerts/(\d+)$"), self.get_alert, "read", "one alert and its timeline"),
            Route("POST", re.compile(r"^/api/v1/alerts/(\d+)/(ack|resolve)$"), self.act, "respond",
                  "acknowledge or resolve an alert"),
            Route("GET", re.compile(r"^/ack/(\d+)$"), self.ack_page, "public", "signed ack link: confirmation page"),
            Route("POST", re.compile(r"^/ack/(\d+)$"), self.ack_submit, "public", "signed ack link: acknowledge"),
            Route("POST", re.compile(r"^/api/v1/admin/reload$"), self.reload, "admin",
                  "re-read the config and crisis plan (as SIGHUP); a bad one is rejected and the old one kept"),
        ]
        from monitor.web.routes import web_routes  # here, not at the top: the pages import this module

        self.routes += web_routes(self)
        from monitor.reports.routes import report_routes  # here too: it imports this module

        self.routes += report_routes(daemon)
        from monitor.api_history import history_routes  # mentions, corrections, series, openapi.json

        self.routes += history_routes(self)
        from monitor.api_push import push_routes  # POST /api/v1/push/{source_id}: signed, not token-checked

        self.routes += push_routes(self)
        parts, http = daemon.parts, daemon.config.http
        self.auth = Authenticator(parts.tokens, http, session_secret=parts.session_secret,
                                  now=lambda: daemon.clock.now().timestamp(),
                                  secure=(http.base_url or "").startswith("https://"))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        extra: list[tuple[str, str]] = environ.setdefault(HEADERS_KEY, [])
        try:
            status, ctype, body = self.dispatch(method, path, environ)
        except HttpError as exc:
            status, ctype, body = _json(exc.status, {"ok": False, "error": str(exc), "status": exc.status})
            if wants_page(environ) and exc.status >= 400:  # a browser gets a page it can read, with a way back
                status, ctype, body = error_page(self, environ, exc.status, str(exc))
            extra = extra + exc.headers
        except Exception:
            log.exception("api: %s %s failed", method, path)
            status, ctype, body = _json(500, {"ok": False, "error": "internal error", "status": 500})
        if ctype.startswith("text/html"):
            extra = extra + _HTML_HEADERS
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", ctype), ("Content-Length", str(len(body))), *extra])
        return [body] if method != "HEAD" else []

    def dispatch(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        allowed = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                allowed = True
                if method in (route.method, "HEAD" if route.method == "GET" else route.method):
                    try:  # the one place access is checked, from the route's declared role
                        environ[PRINCIPAL_KEY] = self.auth.check(environ, route.role, method)
                    except AuthError as exc:
                        raise HttpError(exc.status, str(exc), exc.headers) from None
                    if any(g and g.isdigit() and int(g) > MAX_ID for g in m.groups()):
                        # no row has such an id; the database would refuse the number (a 500)
                        raise HttpError(404, f"no such id in {path}")
                    return route.handler(environ, *m.groups())
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

    def reload(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
        """POST /api/v1/admin/reload: 200 with what changed, or 400 with every problem (old config kept)."""
        result = self.daemon.reload()
        if not result.ok:
            return _json(400, {"ok": False, "status": 400, "problems": result.problems,
                               "error": f"config rejected ({len(result.problems)} problems); the running one stays"})
        return _json(200, {"ok": True, "changes": result.changes, "restart_needed": result.restart_needed})

    def list_alerts(self, environ: dict[str, Any]) -> tuple[int, str, bytes]:
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


    # --- acknowledging and resolving ---------------------------------------------------------

    def act(self, environ: dict[str, Any], alert_id: str, action: str) -> tuple[int, str, bytes]:
        """POST /api/v1/alerts/{id}/ack|resolve (respond role, checked by dispatch)."""
        raw = _read_body(environ)
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, 'body must be JSON such as {"by": "zhang-san", "note": "on it"}') from None
        if not isinstance(data, dict):
            raise HttpError(400, f"body must be a JSON object, got {type(data).__name__}")
        by, note = data.get("by"), data.get("note", "")
        if not isinstance(by, str) or not by.strip():
            raise HttpError(400, f'"by" must name who acts (a non-empty string), got {by!r}')
        if not isinstance(note, str):
            raise HttpError(400, f'"note" must be a string, got {note!r}')
        alert = self._act(int(alert_id), action, by.strip()[:200], note)
        return _json(200, {"ok": True, "alert": asdict(alert)})

    def ack_page(self, environ: dict[str, Any], alert_id: str) -> tuple[int, str, bytes]:
        """GET /ack/{id}?by=&sig=: a confirmation page. It never acknowledges by itself."""
        q = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        by = self._check_link(int(alert_id), q.get("by", ""), q.get("sig", ""))
        with self.daemon.engine.connect() as conn:
            alert = records.find_alert(conn, int(alert_id))
        if alert is None:
            raise HttpError(404, f"alert {alert_id}: no such alert")
        e = html.escape
        title = f"{'[DRILL / 演练] ' if alert.drill else ''}Alert #{alert.id} · {alert.brand} · {alert.level}"
        if alert.state in (AlertState.FIRING, AlertState.ESCALATED):
            action = (f'<form method="post" action="/ack/{alert.id}">'
                      f'<input type="hidden" name="by" value="{e(by)}">'
                      f'<input type="hidden" name="sig" value="{e(q["sig"])}">'
                      f'<p><label>备注 / note <input name="note" size="40"></label></p>'
                      f'<p><button type="submit">确认告警 / Acknowledge as {e(by)}</button></p></form>')
        else:
            who = alert.acknowledged_by or alert.resolved_by or "?"
            action = f"<p>Nothing to do: this alert is {e(alert.state.value)} ({e(who)}).</p>"
        return _html(200, title, f"<p>{e(alert.summary)}</p><p>State: {e(alert.state.value)}</p>{action}")

    def ack_submit(self, environ: dict[str, Any], alert_id: str) -> tuple[int, str, bytes]:
        """POST /ack/{id} (the confirmation page's form): acknowledge as the link's contact."""
        try:
            form = {k: v[-1] for k, v in parse_qs(_read_body(environ).decode("utf-8")).items()}
        except UnicodeDecodeError:
            raise HttpError(400, "form body is not UTF-8") from None
        by = self._check_link(int(alert_id), form.get("by", ""), form.get("sig", ""))
        alert = self._act(int(alert_id), "ack", by, form.get("note", "").strip() or "acknowledged via ack link")
        title = f"Alert #{alert.id} acknowledged · 已确认"
        when = f"{alert.acknowledged_at:%Y-%m-%d %H:%M} UTC"
        return _html(200, title, f"<p>{html.escape(alert.summary)}</p>"
                                 f"<p>Acknowledged by {html.escape(by)} at {when}.</p>")

    def _check_link(self, alert_id: int, by: str, sig: str) -> str:
        secret = self.daemon.parts.link_secret
        if not secret:
            raise HttpError(403, "ack links are disabled: set http.link_secret_env")
        if not by or not hmac.compare_digest(sign_ack(secret, alert_id, by).encode(), sig.encode()):
            raise HttpError(403, f"ack link for alert {alert_id} is not valid (bad or missing signature)")
        return by

    def _act(self, alert_id: int, action: str, by: str, note: str) -> Any:
        with self.daemon.engine.connect() as conn:
            if records.find_alert(conn, alert_id) is None:
                raise HttpError(404, f"alert {alert_id}: no such alert")
        engine = self.daemon.alert_engine
        try:
            if action == "ack":
                return engine.acknowledge(alert_id, by=by, note=note)
            return engine.resolve(alert_id, by=by, reason=note)
        except AlertStateError as exc:
            raise HttpError(409, str(exc)) from None


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, f"bad Content-Length {environ.get('CONTENT_LENGTH')!r}") from None
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"body too large ({length} bytes; at most {MAX_BODY_BYTES})")
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _html(status: int, title: str, body: str) -> tuple[int, str, bytes]:
    page = (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
            f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return status, "text/html; charset=utf-8", page.encode()


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
