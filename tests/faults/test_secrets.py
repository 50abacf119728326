"""Secrets never reach a log line, an error message, the store or /metrics.

The real daemon (a subprocess) runs with every kind of secret in its environment: the
PostgreSQL URL with a password (``storage.url_env``), a webhook bearer token and signing
secret, the WeCom key, the DingTalk token and secret, the Feishu token, the Slack webhook URL,
the SMTP password, the API tokens and the ack-link key. Then everything fails that can:
receivers refuse the credentials and echo them back in their error text (as WeCom's "invalid
webhook url" hints do), one receiver is down, the SMTP server refuses the login, a feed
behind basic auth answers 401, and the database connections are cut. Afterwards every byte
the daemon wrote (its log), every error it stored (outbox, source state), its metrics and the
one-line errors of ``brandpulse`` commands run against a database that is down are searched
for each secret, raw, URL-encoded and base64-encoded.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts.engine import AlertEngine
from alerts.plan import load_plan
from monitor.clock import SystemClock
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from tests.acceptance.harness import ROOT, DaemonProcess, outbox_rows, wait_until
from tests.faults.helpers import BRAND, lines_matching

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SECRETS = {
    "BP_SEC_WEBHOOK_TOKEN": "whtok-7f3a9c1e55d24b",
    "BP_SEC_WEBHOOK_SECRET": "whsec-0b8e61d2aa9f47",
    "BP_SEC_WECOM_KEY": "wecomkey-5d1c93e0b7a2",
    "BP_SEC_DING_TOKEN": "dingtok-c4e8a1f6092d",
    "BP_SEC_DING_SECRET": "SECding-3a7f5b2c9e1d",
    "BP_SEC_FEISHU_TOKEN": "feishutok-8b2d4f6a1c3e",
    "BP_SEC_SMTP_PASSWORD": "smtp-pw-9c7e5a3b1d2f",
    "BP_SEC_ADMIN_TOKEN": "admintok-2e4c6a8b0d1f3a5c",
    "BP_SEC_RESPONDER_TOKEN": "resptok-1f3e5d7c9b0a2e4d",
    "BP_SEC_LINK_SECRET": "linksec-6d8f0b2a4c6e8a0b",
}
DB_PASSWORD = "pg-pw-4a6c8e0b2d4f"
FEED_PASSWORD = "feed-pw-1b3d5f7a9c0e"  # in the feed URL itself (the config, not the env): still never shown


def variants(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode().rstrip("=")]


class RefusingSmtp(Controller):
    """An SMTP server with STARTTLS (a self-signed certificate) that refuses every login (535)."""

    def __init__(self, cert: Path, key: Path) -> None:
        def authenticator(*_args: Any) -> AuthResult:
            return AuthResult(success=False, handled=False)

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                return "250 OK"

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        super().__init__(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticator,
                         tls_context=context, require_starttls=True)


def self_signed(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not found: the SMTP login needs a TLS certificate")
    crt, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return crt, key


def echo_refusal(code_key: str, message: str) -> Any:
    """A chat API refusing the credentials and quoting them back, as some do."""

    def handle(rec: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {code_key: 93000, "errmsg": f"{message}: {rec.path} {rec.body.decode(errors='replace')[:200]}",
             "msg": f"{message}: {rec.path}"}).encode()

    return handle


def test_no_secret_is_ever_logged_stored_or_shown(tmp_path: Path, pg_url: str, pg_admin: sa.Engine,
                                                  http_server: Any) -> None:
    url = sa.engine.make_url(pg_url)
    env = {**SECRETS, "BP_SEC_SLACK_URL": http_server.url("/slack/T0/B0/slacksecret-0e2c4a6b8d"),
           "BP_SEC_DB_URL": url.set(password=DB_PASSWORD).render_as_string(hide_password=False)}
    secrets = [*SECRETS.values(), DB_PASSWORD, FEED_PASSWORD, "slacksecret-0e2c4a6b8d"]
    http_server.route("/wecom", handler=echo_refusal("errcode", "invalid webhook url"))
    http_server.route("/feishu/" + SECRETS["BP_SEC_FEISHU_TOKEN"], handler=echo_refusal("code", "sign match fail"))
    http_server.route("/hook", handler=lambda rec: (401, {}, f"bad token {rec.headers.get('Authorization')}".encode()))
    http_server.route("/slack/T0/B0/slacksecret-0e2c4a6b8d", status=500, body=b"internal")
    http_server.route("/feed.xml", status=401, headers={"WWW-Authenticate": 'Basic realm="feeds"'})
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()  # DingTalk's robot is down: connection refused
    feed_url = http_server.url("/feed.xml").replace("http://", f"http://reader:{FEED_PASSWORD}@")
    cert, key = self_signed(tmp_path)
    smtp = RefusingSmtp(cert, key)
    smtp.start()
    channels = ["hook", "wecom", "dingtalk", "feishu", "slack", "mail"]
    cfg = {
        "storage": {"url_env": "BP_SEC_DB_URL"},
        "http": {"listen": "127.0.0.1:0", "base_url": "https://bp.example.com", "link_secret_env": "BP_SEC_LINK_SECRET",
                 "auth": {"admin_token_env": "BP_SEC_ADMIN_TOKEN", "responder_token_env": "BP_SEC_RESPONDER_TOKEN"}},
        "alerts": {"evaluate_interval": "1s", "dispatch_interval": "0.2s"},
        "cluster": {"lease": "1s"},
        "brands": [{"id": BRAND.id, "name": BRAND.name}],
        "sources": [{"id": "private-feed", "kind": "rss", "interval": "1s", "url": feed_url, "timeout": 2}],
        "notifiers": [
            {"id": "hook", "kind": "webhook", "url": http_server.url("/hook"), "token_env": "BP_SEC_WEBHOOK_TOKEN",
             "secret_env": "BP_SEC_WEBHOOK_SECRET", "timeout": 2},
            {"id": "wecom", "kind": "wecom", "key_env": "BP_SEC_WECOM_KEY", "url": http_server.url("/wecom"),
             "timeout": 2},
            {"id": "dingtalk", "kind": "dingtalk", "token_env": "BP_SEC_DING_TOKEN", "secret_env": "BP_SEC_DING_SECRET",
             "url": f"http://127.0.0.1:{dead_port}/robot/send", "timeout": 2},
            {"id": "feishu", "kind": "feishu", "token_env": "BP_SEC_FEISHU_TOKEN", "url": http_server.url("/feishu"),
             "timeout": 2},
            {"id": "slack", "kind": "slack", "url_env": "BP_SEC_SLACK_URL", "timeout": 2},
            {"id": "mail", "kind": "email", "host": "127.0.0.1", "port": smtp.port, "username": "brandpulse",
             "starttls": True, "ca_file": str(cert),
             "password_env": "BP_SEC_SMTP_PASSWORD", "from_address": "BrandPulse <bp@example.com>",
             "to": ["duty@example.com"], "timeout": 2},
        ],
        "plan": {"contacts": [{"id": "duty", "name": "值班", "channels": channels}],
                 "levels": [{"id": "crisis", "name": "危机", "when": {"negative_spike": 1000, "min_negative": 10**6},
                             "notify": ["duty"]}]},
    }
    config = tmp_path / "brandpulse.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    engine = make_engine(pg_url)
    upgrade(engine)
    plan = load_plan(cfg["plan"], notifier_ids=set(channels), brand_ids={BRAND.id})
    AlertEngine(engine, plan, SystemClock()).drill(BRAND.id, "crisis", by="test", note="secrets")
    os.environ.update(env)  # the daemon inherits them; removed again below
    outputs: list[str] = []
    dbname = url.database
    try:
        daemon = DaemonProcess(config, tmp_path / "daemon.log").start()
        try:
            def every_channel_tried() -> bool:
                rows = outbox_rows(pg_url).values()
                return len(rows) == len(channels) and all(r["attempts"] >= 1 and r["last_error"] for r in rows)

            wait_until(every_channel_tried, timeout=30, what="every notifier to fail once")
            daemon.wait_for_log("source=private-feed poll failed", timeout=20)
            with pg_admin.connect() as conn:  # and the database drops out under it
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": dbname})
            for token in ("wrong-" + SECRETS["BP_SEC_ADMIN_TOKEN"][::-1], SECRETS["BP_SEC_ADMIN_TOKEN"]):
                bearer = {"Authorization": f"Bearer {token}"}
                outputs.append(httpx.get(f"http://127.0.0.1:{daemon.port}/api/v1/alerts", headers=bearer).text)
            outputs.append(httpx.get(f"http://127.0.0.1:{daemon.port}/metrics").text)
            time.sleep(1.5)
            assert daemon.stop() == 0
        finally:
            if daemon.alive():
                daemon.kill9()
        # commands against a database that is down print one line: without the URL's password
        down = url.set(port=dead_port, password=DB_PASSWORD).render_as_string(hide_password=False)
        for argv in (["check-config", str(config)], ["run", "--once", "--config", str(config)]):
            done = subprocess.run([sys.executable, "-m", "monitor.cli", *argv], cwd=ROOT, capture_output=True,
                                  text=True, timeout=120, env={**os.environ, "BP_SEC_DB_URL": down, "PYTHONUTF8": "1"})
            outputs.append(done.stdout + done.stderr)
            assert "***" in outputs[-1] or done.returncode == 0, outputs[-1]  # failed, with the password starred
    finally:
        for k in env:
            os.environ.pop(k, None)
        smtp.stop()

    stored: list[str] = []
    with engine.connect() as conn:
        for table, column in (("outbox", "last_error"), ("source_state", "last_error"), ("alert_events", "note")):
            try:
                stored += [str(v) for v in conn.execute(sa.text(f"SELECT {column} FROM {table}")).scalars()]
            except sa.exc.ProgrammingError:
                conn.rollback()
    engine.dispose()
    log = daemon.text()
    assert "poll failed" in log and len(stored) >= len(channels)
    assert any("93000" in s and "invalid webhook url" in s for s in stored), "the refusals were recorded, text too"
    assert any("***" in s for s in stored), "the echoed credentials were scrubbed, not the whole message dropped"
    failing = lines_matching(log, "channel failing|notification given up")
    assert {c for c in channels if any(f"channel={c} " in line for line in failing)} == set(channels), failing
    haystacks = {"daemon log": log, "stored errors": "\n".join(stored), "command output": "\n".join(outputs)}
    for where, text in haystacks.items():
        for secret in secrets:
            for form in variants(secret):
                assert form not in text, f"a secret ({secret[:6]}…) appears in the {where}"
    print(f"\nsecrets: {len(secrets)} secrets x 3 encodings searched in {len(log.splitlines())} log lines, "
          f"{len(stored)} stored errors, {len(outputs)} command/API outputs: none found")
