"""Fixtures of the fault-injection suite (issue 7). Every test here is marked ``faults``.

- ``fault_server``: a :class:`~tests.faults.servers.FaultServer` (drips, floods, bombs);
- ``http_server``: the shared LoopbackServer, quiet about clients that hang up on purpose;
- ``rig``: a real SQLite store, the real NLP and a Pipeline, with helpers to count what was
  stored and what was logged (PostgreSQL: the kill loop, the dropped connections, secrets).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import configuration
from prometheus_client import CollectorRegistry

from monitor.clock import FixedClock
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from nlp.process import TextProcessor
from nlp.sentiment import SentimentModel
from tests.conftest import LoopbackServer
from tests.faults.helpers import BRAND, external_ids
from tests.faults.servers import FaultServer

# hypothesis keeps caches (unicode tables, constants) in ./.hypothesis; not in the checkout
configuration.set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "brandpulse-hypothesis"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in item.nodeid.replace("\\", "/") or item.nodeid.startswith("faults/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer().start()
    yield server
    server.stop()


def quiet_server() -> LoopbackServer:
    """A started LoopbackServer that stops fast and stays quiet about clients hanging up (a
    daemon killed mid-request, a fetch cut at the size cap: expected here)."""
    server = LoopbackServer()
    report = server.httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    server.httpd.handle_error = handle_error  # type: ignore[method-assign]
    server.thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    return server.start()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = quiet_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def model() -> SentimentModel:
    return SentimentModel.load()


class Rig:
    """A Pipeline on a real store, and what it stored and logged."""

    def __init__(self, engine: sa.Engine, model: SentimentModel, clock: FixedClock,
                 caplog: pytest.LogCaptureFixture) -> None:
        self.engine, self.clock, self.caplog = engine, clock, caplog
        self.registry = CollectorRegistry()
        self.pipeline = Pipeline(engine, TextProcessor([BRAND], model=model), Metrics(self.registry), clock)
        caplog.set_level(logging.INFO, logger="monitor.pipeline")

    def ids(self, source_id: str) -> dict[str, int]:
        return dict(external_ids(self.engine, source_id))

    def log_lines(self, source_id: str, what: str) -> list[str]:
        """Pipeline log messages for ``source_id`` containing ``what``."""
        return [r.getMessage() for r in self.caplog.records
                if r.name == "monitor.pipeline" and f"source={source_id} " in r.getMessage() + " "
                and what in r.getMessage()]

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def rig(sqlite_url: str, model: SentimentModel, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> Iterator[Rig]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield Rig(engine, model, clock, caplog)
    engine.dispose()
