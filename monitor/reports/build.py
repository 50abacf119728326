"""One report from request to files: gather the figures, draw the charts, render a format.

    report = build_report(engine, "week", end=date(2026, 11, 22), brand="qinghe", brands=brands,
                          plan=plan, now=clock.now(), tz=ZoneInfo("Asia/Shanghai"), lang="zh")
    report.write("html", Path("qinghe-week.html"))     # [Path('qinghe-week.html')]
    report.write("md", Path("qinghe-week.md"))         # + qinghe-week-charts/trend.png, ...

The CLI (monitor/cli_report.py), the HTTP page (routes.py) and the scheduled send
(schedule.py) all come through here, so they show the same numbers.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from alerts.plan import CrisisPlan
from monitor import defaults
from monitor.errors import BrandPulseError
from monitor.reports.charts import Chart, all_charts
from monitor.reports.data import ReportData, gather
from monitor.reports.markdown import render_markdown
from monitor.reports.period import Period
from monitor.reports.render import render_html

log = logging.getLogger(__name__)

FORMATS = ("html", "md", "pdf")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_NEEDS = ("pdf is printed by headless Chromium (Debian package chromium), which was not found on PATH; "
             "use --format html and print it from a browser")


@dataclass(frozen=True)
class Report:
    data: ReportData
    charts: list[Chart]
    lang: str

    @property
    def slug(self) -> str:
        scope = self.data.brand_filter or "all"
        return f"brandpulse-{scope}-{self.data.period.slug}"

    def html(self, images: dict[str, str] | None = None, stylesheet: str | None = None) -> str:
        return render_html(self.data, self.charts, lang=self.lang, images=images, stylesheet=stylesheet)

    def write(self, fmt: str, out: Path) -> list[Path]:
        """Write the report as ``fmt`` to ``out``; returns every file written (Markdown: charts too)."""
        if fmt not in FORMATS:
            raise BrandPulseError(f"report format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        out = Path(out)
        if out.is_dir():
            raise BrandPulseError(f"--out {str(out)!r} is a folder: give a file name such as {self.slug}.{fmt}")
        if not out.parent.is_dir():
            raise BrandPulseError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist")
        written: list[Path] = []
        try:
            if fmt == "html":
                _atomic_write(out, self.html().encode("utf-8"))
            elif fmt == "pdf":
                _atomic_write(out, html_to_pdf(self.html()))
            else:
                folder = out.with_name(out.stem + "-charts")
                folder.mkdir(exist_ok=True)
                paths = {}
                for chart in self.charts:
                    path = folder / f"{chart.name}.png"
                    _atomic_write(path, chart.png)
                    written.append(path)
                    paths[chart.name] = f"{folder.name}/{path.name}"
                _atomic_write(out, render_markdown(self.data, self.charts, lang=self.lang,
                                                   chart_paths=paths).encode("utf-8"))
        except OSError as exc:
            raise BrandPulseError(f"cannot write report to {str(out)!r}: {exc.strerror or exc}") from None
        return [out, *written]


def _atomic_write(path: Path, content: bytes) -> None:
    # A reader (a web server, a mail job) never sees half a report.
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(page: str, *, timeout: float = defaults.REPORT_PDF_TIMEOUT_SECONDS) -> bytes:
    """Print the HTML report to PDF with headless Chromium (the charts are already in the page)."""
    binary = find_chromium()
    if binary is None:
        raise BrandPulseError(PDF_NEEDS)
    with tempfile.TemporaryDirectory(prefix="brandpulse-pdf-") as tmp:
        src, dst = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(page, encoding="utf-8")
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={dst}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BrandPulseError(f"Chromium did not print the PDF within {timeout:.0f}s ({binary})") from None
        if not dst.is_file() or dst.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise BrandPulseError(f"Chromium ({binary}) did not print the PDF (exit {proc.returncode}): "
                                  f"{tail[0][:200]}")
        return dst.read_bytes()


def build_report(
    engine: sa.Engine,
    kind: str,
    *,
    end: date | None,
    brand: str | None,
    brands: list[tuple[str, str]],
    plan: CrisisPlan | None,
    now: datetime,
    tz: ZoneInfo,
    lang: str,
) -> Report:
    """Gather and draw one report. ``end`` None: the last complete week or month before today."""
    if lang not in ("zh", "en"):
        raise BrandPulseError(f"report language must be 'zh' or 'en', got {lang!r}")
    period = Period.of(kind, end, now.astimezone(tz).date(), tz)
    return build_for_period(engine, period, brand=brand, brands=brands, plan=plan, now=now, lang=lang)


def build_for_period(
    engine: sa.Engine,
    period: Period,
    *,
    brand: str | None,
    brands: list[tuple[str, str]],
    plan: CrisisPlan | None,
    now: datetime,
    lang: str,
) -> Report:
    with engine.connect() as conn:
        data = gather(conn, period, brands=brands, scope=brand, plan=plan, now=now)
    return Report(data, all_charts(data, lang), lang)
