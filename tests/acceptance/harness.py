"""What the acceptance tests that run the daemon as a real process share.

- :class:`DaemonProcess`: ``python -m monitor.cli run --config FILE`` in a subprocess, its
  output in a log file, ``kill9()`` for a crash and ``wait_for_log`` to follow it;
- :class:`ChatReceiver`: WeCom- and DingTalk-style robot endpoints on the loopback
  ``http_server``, answering ``{"errcode": 0}``, optionally slowly;
- :class:`SmtpReceiver`: a real SMTP server (aiosmtpd) on 127.0.0.1 and a free port;
- :class:`MentionWriter`: appends mentions to the JSONL file a ``file`` source tails.

Every receiver records each delivery with the ``X-BrandPulse-Notification`` header (the
outbox id, the same on every retry), so a test counts deliveries per notification.

    receivers = Receipts()
    chat = ChatReceiver(http_server, receipts, delay=0.5)
    with SmtpReceiver(receipts) as smtp:
        daemon = DaemonProcess(config_path, tmp_path / "daemon-1.log").start()
        receipts.wait(lambda r: len(r) >= 3, timeout=30, what="three deliveries")
        daemon.kill9()
"""

from __future__ import annotations

import asyncio
import email
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from alerts.notify.base import IDEMPOTENCY_HEADER
from alerts.notify.dingtalk import sign as dingtalk_sign
from monitor.store import schema

ROOT = Path(__file__).resolve().parent.parent.parent
STARTED = re.compile(r"brandpulse \S+ started: .* http://127\.0\.0\.1:(\d+)/metrics")
WECOM_KEY = "wecom-test-key-0c2f"
DINGTALK_TOKEN = "dingtalk-test-token-91ab"
DINGTALK_SECRET = "SECdingtalk-test-secret-77"
SECRETS_ENV = {"BP_TEST_WECOM_KEY": WECOM_KEY, "BP_TEST_DINGTALK_TOKEN": DINGTALK_TOKEN,
               "BP_TEST_DINGTALK_SECRET": DINGTALK_SECRET}


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- the daemon as a process ---------------------------------------------------------------


class DaemonProcess:
    """One run of ``brandpulse run`` (a fresh Python process), output to ``log``."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    def start(self, timeout: float = 60) -> DaemonProcess:
        env = {**os.environ, **SECRETS_ENV, "PYTHONUTF8": "1", "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run", "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        self.port = int(self.wait_for_log(STARTED, timeout).group(1))
        return self

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def wait_for_log(self, pattern: re.Pattern[str] | str, timeout: float) -> re.Match[str]:
        rx = re.compile(pattern)

        def found() -> re.Match[str] | None:
            m = rx.search(self.text())
            if m is None and self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            return m

        try:
            return wait_until(found, timeout, f"{rx.pattern!r} in {self.log.name}")  # type: ignore[no-any-return]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.log.name} ---\n{self.text()[-3000:]}") from None

    def kill9(self) -> None:
        """A crash: SIGKILL, no cleanup of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM (clean stop); SIGKILL if it does not stop within 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"daemon ignored SIGTERM:\n{self.text()[-3000:]}") from None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# --- receivers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """One delivery seen by a receiver."""

    channel: str  # "wecom", "dingtalk" or "email"
    outbox_id: int
    text: str  # what a person reads: markdown content or the email's plain-text part
    at: float  # time.monotonic() on arrival
    wall: datetime = field(default_factory=lambda: datetime.now(UTC))  # to compare with stored times


class Receipts:
    """Deliveries of every receiver, in arrival order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Receipt] = []

    def add(self, receipt: Receipt) -> None:
        with self._lock:
            self._items.append(receipt)

    def all(self) -> list[Receipt]:
        with self._lock:
            return list(self._items)

    def wait(self, check: Callable[[list[Receipt]], bool], timeout: float, what: str) -> list[Receipt]:
        def ready() -> list[Receipt] | None:
            items = self.all()
            return items if check(items) else None

        try:
            return wait_until(ready, timeout, what)  # type: ignore[no-any-return]
        except AssertionError as exc:
            seen = [(r.channel, r.outbox_id) for r in self.all()]
            raise AssertionError(f"{exc}; deliveries so far: {seen}") from None

    def per_outbox_id(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for r in self.all():
            counts[r.outbox_id] = counts.get(r.outbox_id, 0) + 1
        return counts


class ChatReceiver:
    """``/wecom`` and ``/dingtalk`` robot endpoints; each answers ``{"errcode": 0}`` after
    ``delay`` seconds (a slow receiver lets a test kill the sender mid-send)."""

    OK = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()

    def __init__(self, server: Any, receipts: Receipts, *, delay: float = 0.0) -> None:
        self.receipts, self.delay = receipts, delay
        server.route("/wecom", handler=self._handler("wecom"))
        server.route("/dingtalk", handler=self._handler("dingtalk"))
        self.wecom_url, self.dingtalk_url = server.url("/wecom"), server.url("/dingtalk")

    def _handler(self, channel: str) -> Callable[[Any], tuple[int, dict[str, str], bytes]]:
        def handle(rec: Any) -> tuple[int, dict[str, str], bytes]:
            query = parse_qs(urlsplit(rec.path).query)
            if not self._authentic(channel, query):  # what the real robots answer to a bad key or signature
                return 200, {}, json.dumps({"errcode": 93000 if channel == "wecom" else 310000,
                                            "errmsg": "invalid key or sign"}).encode()
            # Recorded on arrival: a robot posts the message to the group as soon as it has it,
            # whether or not the sender lives to read the answer.
            body = rec.json()
            text = body["markdown"]["content"] if channel == "wecom" else body["markdown"]["text"]
            self.receipts.add(Receipt(channel, int(rec.headers[IDEMPOTENCY_HEADER]), text, time.monotonic()))
            if self.delay:
                time.sleep(self.delay)
            return 200, {"Content-Type": "application/json"}, self.OK

        return handle

    @staticmethod
    def _authentic(channel: str, query: dict[str, list[str]]) -> bool:
        if channel == "wecom":
            return query.get("key") == [WECOM_KEY]
        stamp = query.get("timestamp", [""])[0]
        return (query.get("access_token") == [DINGTALK_TOKEN] and stamp.isdigit()
                and query.get("sign") == [dingtalk_sign(DINGTALK_SECRET, int(stamp))])


class _SmtpHandler:
    def __init__(self, receipts: Receipts, delay: float) -> None:
        self.receipts, self.delay = receipts, delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        text = f"{msg['Subject']}\n{body.get_content() if body is not None else ''}"  # type: ignore[attr-defined]
        self.receipts.add(Receipt("email", int(msg[IDEMPOTENCY_HEADER]), text, time.monotonic()))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 OK"


class SmtpReceiver(Controller):
    """aiosmtpd on 127.0.0.1 and a free port (read back before the readiness probe)."""

    def __init__(self, receipts: Receipts, *, delay: float = 0.0) -> None:
        super().__init__(_SmtpHandler(receipts, delay), hostname="127.0.0.1")

    def _create_server(self) -> Any:
        async def create() -> Any:
            server = await self.loop.create_server(self._factory_invoker, host=self.hostname, port=0,
                                                   ssl=self.ssl_context)
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()

    def __enter__(self) -> SmtpReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- mentions in ---------------------------------------------------------------------------

# Clauses combined at random: every complaint reads differently, so the near-duplicate filter
# (SimHash) keeps them, and every one is plainly negative.
OPENINGS = ["太差了！", "再也不买了，", "坚决抵制，", "气死我了，", "真的失望透顶，", "投诉无门，", "垃圾产品，",
            "大家避雷，"]
PROBLEMS = ["喝完肚子疼还拉肚子", "买到的牛奶已经变质发臭", "包装里有异物", "客服态度恶劣不理人",
            "门店拒绝退货还骂人", "质量有严重问题", "孩子喝了上吐下泻", "过期产品还在卖"]
DEMANDS = ["要求全额退款", "一定要维权到底", "已经向消协投诉", "必须给个说法", "太恶心了差评",
           "欺骗消费者", "再也不会相信了", "建议大家别买"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆", "天津", "苏州"]
PRAISE = ["{b}的新品真好喝，包装也很用心，推荐给朋友了", "今天在{c}门店买了{b}，服务态度很好，店员很热情",
          "{b}的会员活动很划算，性价比高，满意", "喝了一个月{b}，质量不错，物流也快，好评"]


class MentionWriter:
    """Appends mentions of one brand to a JSONL export (``id, text, user, time``)."""

    FIELDS = {"id": "id", "text": "text", "author": "user", "time": "time"}

    def __init__(self, path: Path, brand_name: str, *, seed: int = 4) -> None:
        self.path, self.brand = path, brand_name
        self.rnd = random.Random(seed)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        path.touch()

    def _append(self, rows: list[dict[str, str]]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(data)  # whole lines only: the source takes a line once its newline is there

    def praise(self, at: datetime) -> None:
        n = next(self._ids)
        text = self.rnd.choice(PRAISE).format(b=self.brand, c=self.rnd.choice(CITIES))
        self._append([{"id": f"m{n}", "text": f"{text} 第{n}次", "user": f"fan{n}", "time": at.isoformat()}])

    def complaint(self, at: datetime | None = None) -> None:
        n = next(self._ids)
        r = self.rnd
        text = (f"{r.choice(OPENINGS)}{r.choice(CITIES)}买的{self.brand}{r.choice(PROBLEMS)}，{r.choice(DEMANDS)}！"
                f"第{r.randint(1, 10**6)}位受害者")
        when = (at or datetime.now(UTC)).isoformat()
        self._append([{"id": f"m{n}", "text": text, "user": f"angry{n}", "time": when}])


class Burst:
    """A background thread appending a complaint every ``every`` seconds until ``stop()``."""

    def __init__(self, writer: MentionWriter, every: float) -> None:
        self.writer, self.every = writer, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.writer.complaint()
            self._stop.wait(self.every)

    def start(self) -> Burst:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# --- the store, read back --------------------------------------------------------------------


def outbox_rows(url: str) -> dict[int, dict[str, Any]]:
    """Every outbox row by id."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {int(r["id"]): dict(r) for r in conn.execute(sa.select(schema.outbox)).mappings()}
    finally:
        engine.dispose()


def alerts_and_events(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            alerts = [dict(r) for r in conn.execute(sa.select(schema.alerts).order_by(schema.alerts.c.id)).mappings()]
            events = [dict(r) for r in conn.execute(
                sa.select(schema.alert_events).order_by(schema.alert_events.c.id)).mappings()]
        return alerts, events
    finally:
        engine.dispose()
