"""``GET /reports/{week|month}?brand=&end=&lang=``: the report as a page served by the daemon
(role "read"), the page the scheduled chat messages link to.

The page links its stylesheet (``/reports/report.css``) instead of carrying a ``<style>``: the
daemon's pages allow no inline style (monitor/api.py's Content-Security-Policy); its charts
are ``data:`` images, which that policy allows. A built page is kept for a minute, so a chat
group opening the same link at once builds it once.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from monitor.api import HttpError, Response, Route
from monitor.errors import BrandPulseError
from monitor.reports.build import build_report
from monitor.reports.period import parse_end
from monitor.reports.render import CSS

if TYPE_CHECKING:
    from monitor.daemon import Daemon

CACHE_SECONDS = 60.0  # how long a built page is served again
CACHE_ENTRIES = 16
STYLESHEET = "/reports/report.css"


class ReportPages:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, environ: dict[str, Any], kind: str) -> Response:
        q = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        config = self.daemon.config
        brands = [(b.id, b.name) for b in config.brands]
        brand = q.get("brand") or None
        if brand is not None and brand not in {b for b, _ in brands}:
            raise HttpError(404, f"unknown brand {brand!r} (known: {', '.join(b for b, _ in brands)})")
        lang = q.get("lang") or config.reports.language
        if lang not in ("zh", "en"):
            raise HttpError(400, f"lang must be zh or en, got {lang!r}")
        tz = ZoneInfo(config.reports.timezone)
        now = self.daemon.clock.now()
        try:
            end: date | None = parse_end(q.get("end"), now.astimezone(tz).date())
        except BrandPulseError as exc:
            raise HttpError(400, str(exc)) from None
        key = (kind, brand, end, lang, config.reports.timezone, id(config))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return 200, "text/html; charset=utf-8", hit[1]
        try:
            report = build_report(self.daemon.engine, kind, end=end, brand=brand, brands=brands,
                                  plan=self.daemon.parts.plan, now=now, tz=tz, lang=lang)
        except BrandPulseError as exc:
            raise HttpError(400, str(exc)) from None
        body = report.html(stylesheet=STYLESHEET).encode("utf-8")
        with self._lock:
            self._cache[key] = (time.monotonic() + CACHE_SECONDS, body)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return 200, "text/html; charset=utf-8", body

    def stylesheet(self, environ: dict[str, Any]) -> Response:
        return 200, "text/css; charset=utf-8", CSS.encode("utf-8")


def report_routes(daemon: Daemon) -> list[Route]:
    pages = ReportPages(daemon)
    return [
        Route("GET", re.compile(r"^/reports/report\.css$"), pages.stylesheet, "read", "the report pages' stylesheet"),
        Route("GET", re.compile(r"^/reports/(week|month)$"), pages.page, "read",
              "weekly or monthly report page (?brand=&end=YYYY-MM-DD&lang=zh|en)"),
    ]
