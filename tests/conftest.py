"""Shared fixtures: real databases (SQLite and PostgreSQL), a loopback HTTP server, a clock.

PostgreSQL tests use the server at BRANDPULSE_TEST_PG_URL (default: the local trust-auth
server). Each test gets a fresh database. When the server is unreachable the tests are
skipped, unless BRANDPULSE_REQUIRE_POSTGRES=1 (CI), where they fail instead.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.clock import FixedClock

PG_ADMIN_URL = os.environ.get("BRANDPULSE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _require_pg() -> bool:
    return os.environ.get("BRANDPULSE_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        engine.dispose()
        if _require_pg():
            pytest.fail(f"PostgreSQL required but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin: sa.Engine) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"bp_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'brandpulse.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Parametrises a test over both databases: the same suite runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'brandpulse.db'}"
    request.applymarker(pytest.mark.postgres)
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


# --- loopback HTTP server ------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    handler: Callable[[Recorded], tuple[int, dict[str, str], bytes]] | None = None


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 and a free port, recording every request.

    ``server.route("/feed.xml", body=b"...", headers={"ETag": '"v1"'})`` serves a fixed answer;
    ``handler=fn`` computes one from the recorded request (fn returns status, headers, body).
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(rec)
                    route = outer.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, headers, payload = 404, {}, b"not found"
                elif route.handler is not None:
                    status, headers, payload = route.handler(rec)
                else:
                    status, headers, payload = route.status, dict(route.headers), route.body
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_HEAD = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, **kw: Any) -> Route:
        r = Route(**kw)
        with self._lock:
            self.routes[path] = r
        return r

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()
