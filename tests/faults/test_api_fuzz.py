"""The HTTP API fuzzed from its own OpenAPI description (schemathesis), with a bounded number
of examples per operation: no 500s, no response that contradicts the description (status
codes, content types, body schemas).

The daemon runs in-process on a real SQLite store holding mentions and an alert (so reads
return real objects), with every role's token configured; the fuzzer calls as admin. Each
operation's failing example is printed by schemathesis with a curl line to reproduce it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from prometheus_client import CollectorRegistry

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from monitor.daemon import Daemon  # noqa: E402
from monitor.settings import load_config  # noqa: E402
from tests.faults.helpers import BRAND, complaint, jsonl, text  # noqa: E402

pytestmark = pytest.mark.slow

TOKENS = {"BP_FUZZ_ANALYST": "analyst-token-0123456789abcdef", "BP_FUZZ_RESPONDER": "responder-token-0123456789abcd",
          "BP_FUZZ_ADMIN": "admin-token-0123456789abcdef01"}
EXAMPLES = 12  # per operation: the whole module stays within a few seconds


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("api-fuzz")
    now = datetime.now(UTC)
    records = [{"id": f"m{i}", "text": complaint(i) if i % 2 else text(i), "user": f"user{i}",
                "time": (now - timedelta(minutes=30 - i)).isoformat()} for i in range(30)]
    (folder / "export.jsonl").write_text(jsonl(records), encoding="utf-8")
    cfg = {"storage": {"url": f"sqlite:///{folder / 'bp.db'}"}, "http": {"listen": "127.0.0.1:0", "auth": {
               "analyst_token_env": "BP_FUZZ_ANALYST", "responder_token_env": "BP_FUZZ_RESPONDER",
               "admin_token_env": "BP_FUZZ_ADMIN"}},
           "brands": [{"id": BRAND.id, "name": BRAND.name, "aliases": list(BRAND.aliases)}],
           "sources": [{"id": "export", "kind": "file", "path": "export.jsonl",
                        "fields": {"id": "id", "text": "text", "author": "user", "time": "time"}}],
           "notifiers": [{"id": "console", "kind": "console", "stream": "stderr"}],
           "plan": {"bucket": "5m", "baseline_days": 1,
                    "contacts": [{"id": "duty", "name": "值班", "channels": ["console"]}],
                    "levels": [{"id": "warning", "name": "预警", "when": {"negative_spike": 2, "min_negative": 5},
                                "notify": ["duty"]}]}}
    config = folder / "brandpulse.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    saved = {k: os.environ.get(k) for k in TOKENS}
    os.environ.update(TOKENS)
    daemon = Daemon(load_config(config), registry=CollectorRegistry())
    try:
        assert daemon.run_once()["stored"] == 30
        daemon.start()
        host, port = daemon.address
        yield f"http://{host}:{port}"
    finally:
        daemon.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def api_schema(api: str) -> Any:
    return schemathesis.openapi.from_url(f"{api}/api/v1/openapi.json")


def test_the_api_answers_every_request_as_it_describes_without_a_server_error(api_schema: Any, api: str) -> None:
    """Each operation gets EXAMPLES generated requests (schemathesis' pytest plugin is not used:
    it does not run under this pytest, so the operations are driven through hypothesis here)."""
    headers = {"Authorization": f"Bearer {TOKENS['BP_FUZZ_ADMIN']}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: dict[str, str] = {}
    tried = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        tried += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate])
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=api, headers=headers, checks=checks)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis: a FailureGroup describing the request
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert tried >= 5
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_the_description_covers_the_api(api_schema: Any) -> None:
    """The fuzzing above is only as wide as the description: it must list the core routes."""
    paths = {op.path for op in (r.ok() for r in api_schema.get_all_operations())}
    for path in ("/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/mentions"):
        assert any(p.rstrip("/") == path or p.startswith(path.split("{")[0]) for p in paths), (path, paths)
