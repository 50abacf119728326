"""Hostile feeds, through the real Pipeline: XML attacks are refused without reading a local
file, fetching anything, or spending memory; the refusal is one logged line, the secret never
reaches the store, the log or the error; the source works again once the feed is honest.

tests/sources/test_rss.py checks the parser on the two classic documents; here every variant
goes the whole way (fetch, charset sniffing, parse, store) and is measured.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.errors import ParseError
from monitor.store import schema
from sources import build_source
from tests.faults.helpers import feed
from tests.faults.servers import FaultServer, respond

SECRET = "TOP-SECRET-4711-do-not-leak"
FEED_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
ITEM = "<item><title>阿克米咖啡 {what}</title><guid>evil-1</guid><description>{body}</description></item>"


def doc(dtd: str, body: str, encoding: str = "utf-8") -> bytes:
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE rss [\n{dtd}\n]>\n'
            f'<rss version="2.0"><channel><title>evil</title>{ITEM.format(what="news", body=body)}</channel></rss>')
    return text.encode(encoding)


def laughs(levels: int = 10) -> str:
    ents = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, levels)]
    return "\n".join(ents)


def attacks(secret_path: Path, dtd_url: str) -> dict[str, bytes]:
    quadratic = f'<!ENTITY a "{"x" * 50_000}">'
    return {
        "billion-laughs": doc(laughs(), "&l9;"),
        "billion-laughs-utf16": b"\xff\xfe" + doc(laughs(), "&l9;", "utf-16-le"),
        "quadratic-blowup": doc(quadratic, "&a;" * 5_000),
        "xxe-local-file": doc(f'<!ENTITY xxe SYSTEM "file://{secret_path}">', "&xxe;"),
        "xxe-parameter-entity": doc(f'<!ENTITY % remote SYSTEM "{dtd_url}">\n%remote;', "x"),
        "xxe-not-well-formed": doc(f'<!ENTITY xxe SYSTEM "file://{secret_path}">', "&xxe;<broken>"),
    }


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(attacks(Path("/x"), "http://x/")))
def test_xml_attacks_are_refused_without_reading_fetching_or_exhausting(
        name: str, rig: Any, fault_server: FaultServer, tmp_path: Path, secret_file: Path) -> None:
    fault_server.route("/evil.dtd", respond(200, f'<!ENTITY ext "{SECRET}">'.encode(), {"Content-Type": "text/xml"}))
    body = attacks(secret_file, fault_server.url("/evil.dtd"))[name]
    fault_server.route("/feed", respond(200, body, FEED_TYPE))
    source = build_source("evil", "rss", {"url": fault_server.url("/feed")}, base_dir=tmp_path, clock=rig.clock)
    rig.caplog.set_level(logging.DEBUG)
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcomes = [rig.pipeline.poll(source) for _ in range(2)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    err = outcomes[0].error
    assert not outcomes[0].ok and isinstance(err, ParseError), err
    assert "unsafe XML refused" in str(err) or "not allowed" in str(err), str(err)
    assert peak < 16 * 2**20, f"{name}: refusing it allocated {peak / 2**20:.1f} MiB"
    assert elapsed < 5, f"{name}: refusing it took {elapsed:.1f}s"
    with fault_server.lock:
        assert fault_server.hits["/evil.dtd"] == 0, "the external DTD/entity was fetched"
    everything = "\n".join(r.getMessage() for r in rig.caplog.records) + str(err) + repr(vars(err))
    assert SECRET not in everything
    with rig.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one() == 0
    assert len(rig.log_lines("evil", "poll failed")) == 1

    fault_server.route("/feed", respond(200, feed(range(3)), FEED_TYPE))  # the feed is honest again
    assert rig.pipeline.poll(source).stored == 3
    source.close()


def test_an_external_dtd_is_never_fetched_and_its_entities_never_expanded(
        rig: Any, fault_server: FaultServer, tmp_path: Path) -> None:
    """Many real feeds start with a DOCTYPE naming a public DTD (RSS 0.91): harmless as long as
    nothing fetches it, so such feeds keep working, and an entity the external DTD would
    define (here: the secret) stays an unexpanded reference."""
    fault_server.route("/rss-0.91.dtd", respond(200, f'<!ENTITY ext "{SECRET}">'.encode(),
                                                {"Content-Type": "text/xml"}))
    doctype = f'<!DOCTYPE rss SYSTEM "{fault_server.url("/rss-0.91.dtd")}">\n<rss'.encode()
    body = feed(range(3)).replace(b"<rss", doctype, 1).replace(b"</description>", b" &ext;</description>", 1)
    fault_server.route("/feed", respond(200, body, FEED_TYPE))
    source = build_source("dtd", "rss", {"url": fault_server.url("/feed")}, base_dir=tmp_path, clock=rig.clock)
    outcome = rig.pipeline.poll(source)
    with fault_server.lock:
        assert fault_server.hits["/rss-0.91.dtd"] == 0, "the external DTD was fetched"
    assert outcome.ok and outcome.stored == 3, outcome
    with rig.engine.connect() as conn:
        texts = conn.execute(sa.select(schema.mentions.c.text)).scalars().all()
    assert not any(SECRET in t for t in texts)
    source.close()
