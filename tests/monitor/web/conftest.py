"""The pages' tests run against a real daemon on a free port (tests/monitor/web/helpers.py)."""

from __future__ import annotations

from tests.monitor.web.helpers import site

__all__ = ["site"]
