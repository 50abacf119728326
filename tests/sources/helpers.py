"""Small helpers shared by the sources tests (not fixtures: plain functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor.clock import Clock
from sources import build_source
from sources.base import Source

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"


def make_source(
    kind: str, options: dict[str, Any], *, base_dir: Path, clock: Clock, source_id: str = "src"
) -> Source:
    return build_source(source_id, kind, options, base_dir=base_dir, clock=clock)


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()
