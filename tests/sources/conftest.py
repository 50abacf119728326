"""The shared loopback server, stopped faster and quiet about clients hanging up.

``tests/conftest.py``'s server runs ``serve_forever()`` with the default 0.5 s poll interval,
so every test using it spends up to half a second in teardown; these tests use dozens of
servers. Several tests also abort a response on purpose (size cap, gzip bomb, timeout), and
the server would print a traceback for each reset connection.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LoopbackServer


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    report = server.httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # reset / broken pipe: expected here
            report(request, client_address)

    server.httpd.handle_error = handle_error  # type: ignore[method-assign]
    server.thread = threading.Thread(
        target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    server.start()
    yield server
    server.stop()
