"""Misbehaving HTTP servers on 127.0.0.1: what tests/conftest.py's LoopbackServer cannot do.

The LoopbackServer answers with a whole body and a Content-Length. A hostile or broken feed
server does worse: it trickles a byte a second, streams gigabytes, or sends gzip that
inflates a thousandfold. :class:`FaultServer` is a raw socket server whose routes are
*behaviours*, functions that write whatever they like to the socket::

    server = FaultServer().start()
    server.route("/drip", drip(b"<rss>...", every=1.0))
    server.route("/huge", endless(declared=2 * 2**30))      # 2 GB, never allocated
    server.route("/feed", respond(200, FEED, {"Content-Type": "application/rss+xml"}))
    server.sent["/huge"]                                      # bytes actually written
    server.stop()

Routes can be swapped while a daemon polls the server (a fault, then the recovery).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable

Behaviour = Callable[[socket.socket, "FaultServer", str], None]


class FaultServer:
    """A threaded HTTP/1.1 server on a free loopback port; one behaviour per path."""

    def __init__(self, *, listening: bool = True) -> None:
        # Bound but not listening, the port refuses connections until ``listen()``.
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.listening = listening
        self.port: int = self._sock.getsockname()[1]
        self.routes: dict[str, Behaviour] = {}
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # body bytes written per path
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fault-server")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> None:
        with self.lock:
            self.routes[path] = behaviour

    def start(self) -> FaultServer:
        if self.listening:
            self.listen()
        return self

    def listen(self) -> None:
        """Start accepting connections (after ``listening=False``: the end of "refused")."""
        self.listening = True
        self._sock.listen(64)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._sock.close()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                path = head.split(b" ", 2)[1].decode("latin-1").split("?", 1)[0]
                with self.lock:
                    self.hits[path] += 1
                    behaviour = self.routes.get(path)
                if behaviour is None:
                    respond(404, b"not found")(conn, self, path)
                else:
                    behaviour(conn, self, path)
            except OSError:
                pass  # the client gave up (size cap, timeout): that is the point of most routes

    def count(self, path: str, n: int) -> None:
        with self.lock:
            self.sent[path] += n


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """An ordinary response (closing the connection afterwards)."""

    def run(conn: socket.socket, server: FaultServer, path: str) -> None:
        hdrs = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        conn.sendall(_head(status, hdrs) + body)
        server.count(path, len(body))

    return run


def drip(body: bytes, *, every: float = 1.0, headers: dict[str, str] | None = None,
         headers_too: bool = False) -> Behaviour:
    """The body one byte every ``every`` seconds (a slow-loris feed); with ``headers_too`` the
    status line and headers trickle the same way, so the response never even starts."""

    def run(conn: socket.socket, server: FaultServer, path: str) -> None:
        hdrs = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        head = _head(200, hdrs)
        if not headers_too:
            conn.sendall(head)
        data = head + body if headers_too else body
        for i in range(len(data)):
            if server.stopping:
                return
            conn.sendall(data[i : i + 1])
            server.count(path, 1)
            time.sleep(every)

    return run


def stall(seconds: float, then: Behaviour) -> Behaviour:
    """Say nothing for ``seconds`` (a hung upstream), then behave as ``then``."""

    def run(conn: socket.socket, server: FaultServer, path: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not server.stopping:
            time.sleep(0.05)
        then(conn, server, path)

    return run


def redirect_loop() -> Behaviour:
    """302 to the same path with a new query, for ever (``/feed?hop=1``, ``?hop=2``, ...)."""
    hops = iter(range(1, 10**9))

    def run(conn: socket.socket, server: FaultServer, path: str) -> None:
        respond(302, b"", {"Location": f"{path}?hop={next(hops)}"})(conn, server, path)

    return run


def endless(*, declared: int | None = None, chunk: int = 64 * 1024, fill: bytes = b"<!-- padding -->\n",
            headers: dict[str, str] | None = None) -> Behaviour:
    """A body of ``declared`` bytes (as Content-Length), or chunked and without end when None;
    written from one reused buffer, so the server never holds more than ``chunk`` bytes."""
    block = (fill * (chunk // len(fill) + 1))[:chunk]

    def run(conn: socket.socket, server: FaultServer, path: str) -> None:
        hdrs = {"Content-Type": "application/rss+xml", "Connection": "close", **(headers or {})}
        if declared is not None:
            hdrs["Content-Length"] = str(declared)
        else:
            hdrs["Transfer-Encoding"] = "chunked"
        prefix = b'<?xml version="1.0"?><rss version="2.0"><channel>'
        conn.sendall(_head(200, hdrs) + (prefix if declared is not None else b"%x\r\n%s\r\n" % (len(prefix), prefix)))
        server.count(path, len(prefix))
        left = None if declared is None else declared - len(prefix)
        while not server.stopping and (left is None or left > 0):
            piece = block if left is None or left >= len(block) else block[:left]
            if declared is None:
                conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                conn.sendall(piece)
                left = (left or 0) - len(piece)
            server.count(path, len(piece))

    return run
