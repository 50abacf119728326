"""Docs kept in step with code (datasette's trick): every setting, source kind, notifier kind,
plan key and metric appears where a user would look for it."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from alerts.notify import NOTIFIER_KINDS
from monitor import settings
from monitor.metrics import Metrics
from sources import SOURCE_KINDS

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = (ROOT / "config" / "brandpulse.example.yaml").read_text(encoding="utf-8")
PLAN_EXAMPLE = (ROOT / "config" / "crisis_plan.example.yaml").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def keys_of(model: type[BaseModel]) -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        out.add(name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out |= keys_of(ann)
        else:
            for arg in getattr(ann, "__args__", ()):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    out |= keys_of(arg)
    return out


def test_every_setting_is_in_the_example_config() -> None:
    missing = sorted(k for k in keys_of(settings._Root) if f"{k}:" not in EXAMPLE)
    assert not missing, f"settings missing from config/brandpulse.example.yaml: {missing}"


def test_every_source_kind_and_option_is_documented() -> None:
    for kind, cls in SOURCE_KINDS.items():
        assert f"kind: {kind}" in EXAMPLE, kind
        missing = sorted(k for k in keys_of(cls.options_model) if f"{k}:" not in EXAMPLE)
        assert not missing, f"source kind {kind!r} options missing from the example config: {missing}"


def test_every_notifier_kind_and_option_is_documented() -> None:
    for kind, cls in NOTIFIER_KINDS.items():
        assert f"kind: {kind}" in EXAMPLE, kind
        missing = sorted(k for k in keys_of(cls.Options) if f"{k}:" not in EXAMPLE)
        assert not missing, f"notifier kind {kind!r} options missing from the example config: {missing}"


def test_every_plan_key_is_in_the_plan_example() -> None:
    from alerts.plan import PLAN_KEYS

    missing = sorted(k for k in PLAN_KEYS if f"{k}:" not in PLAN_EXAMPLE)
    assert not missing, f"plan keys missing from config/crisis_plan.example.yaml: {missing}"


def test_every_metric_is_in_the_readme() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    names = {m.name for m in registry.collect()}
    names |= {"brandpulse_source_last_success_timestamp_seconds", "brandpulse_source_consecutive_failures",
              "brandpulse_alerts_open", "brandpulse_outbox_notifications",
              "brandpulse_outbox_oldest_due_timestamp_seconds"}
    missing = sorted(n for n in names if n not in README)
    assert not missing, f"metrics missing from README.md: {missing}"
