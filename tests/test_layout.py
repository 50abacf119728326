"""The import rules of ../shared/DESIGN.md, enforced: dependencies only point down.

Each rule: modules matching a prefix may not import modules matching any forbidden prefix.
Imports under ``if TYPE_CHECKING:`` count too (a cycle hidden there is still a smell), except
where a rule says otherwise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitor", "sources", "nlp", "alerts")

WIRING = ("monitor.pipeline", "monitor.scheduler", "monitor.daemon", "monitor.api", "monitor.cli", "monitor.reports",
          "monitor.cluster", "monitor.reload", "monitor.web",
          "monitor.cli_history", "monitor.api_history", "monitor.openapi")
WIRING += ("monitor.cli_ops", "monitor.status", "monitor.housekeeping")  # issue 6: db/status commands, retention task
WIRING += ("monitor.cli_nlp",)  # issue 3: train/eval/explain commands
WIRING += ("monitor.api_push",)  # issue 7: push sources' endpoint and spool
WIRING += ("monitor.parts",)  # builds sources, notifiers and the plan from a Config (daemon, check-config, reload)
OURS = ("monitor", "sources", "nlp", "alerts")

RULES: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("monitor.models", "monitor.errors", "monitor.clock", "monitor.defaults"), OURS),
    (("monitor.settings",), ("monitor.store", "sources", "nlp", "alerts") + WIRING),
    (("sources",), ("nlp", "alerts", "monitor.store", "monitor.metrics", "monitor.settings") + WIRING),
    (("nlp",), ("sources", "alerts", "monitor.store", "monitor.metrics", "monitor.settings") + WIRING),
    (("monitor.store",), ("sources", "nlp", "alerts", "monitor.metrics") + WIRING),
    (("monitor.metrics",), ("sources", "nlp", "alerts") + WIRING),
    (("alerts.notify",), ("alerts.plan", "alerts.engine", "alerts.detect", "alerts.baseline", "alerts.escalation",
                          "alerts.outbox", "alerts.dispatch", "alerts.render", "alerts.records", "alerts.mute",
                          "monitor.store", "sources", "nlp", "monitor.settings", "monitor.metrics") + WIRING),
    (("alerts",), ("sources", "nlp", "monitor.settings") + WIRING),
    (("monitor.pipeline",), ("alerts",)),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    pkg = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return found


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def all_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    name = module_name(path)
    bad = []
    for owners, forbidden in RULES:
        if _matches(name, owners):
            for imported in imports_of(path):
                if _matches(imported, forbidden) and not _matches(imported, owners):
                    bad.append(imported)
    assert not bad, f"{name} imports {sorted(set(bad))}, which the layering in DESIGN.md forbids"


def test_modules_stay_readable() -> None:
    """STYLE.md: split a module by responsibility before it passes about 500 lines."""
    long = {str(p.relative_to(ROOT)): n for p in all_modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, f"modules past 500 lines: {long}"
