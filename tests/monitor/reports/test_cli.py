"""``brandpulse report`` end to end: a config or only a database in, files out, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from monitor.cli import main
from monitor.reports.build import find_chromium

from .conftest import LAST_DAY, PLAN, local, mention, write

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def filled(store: sa.Engine) -> sa.Engine:
    d = LAST_DAY - timedelta(days=6)
    write(store, [mention("acme", local(d + timedelta(days=i % 7), 9 + i % 10), ("negative", "positive")[i % 2],
                          keywords=("变质",) if i % 2 == 0 else ("好喝",), engagement=i) for i in range(40)]
          + [mention("beta", local(d, 12), "neutral") for _ in range(10)])
    return store


def _config(tmp_path: Path, url: str) -> Path:
    cfg = {"storage": {"url": url},
           "brands": [{"id": "acme", "name": "阿克米咖啡"}, {"id": "beta", "name": "贝塔手机"}],
           "notifiers": [{"id": "mail", "kind": "console"}, {"id": "hook", "kind": "console"}],
           "reports": {"timezone": "Asia/Shanghai", "language": "en"},
           "plan": PLAN}
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def test_html_and_markdown_from_a_config(filled: sa.Engine, db_url: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, db_url)
    out = tmp_path / "acme.html"
    assert main(["report", "--period", "week", "--end", str(LAST_DAY), "--brand", "acme", "--format", "html",
                 "--out", str(out), "-c", str(cfg)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Weekly brand report · 阿克米咖啡 · 2026-11-16 – 2026-11-22" in page  # reports.language: en
    assert page.count("data:image/png;base64,") == 4
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out) and "40 mentions" in captured.err
    md = tmp_path / "all.md"
    assert main(["report", "--period", "week", "--end", str(LAST_DAY), "--format", "md", "--lang", "zh",
                 "--out", str(md), "-c", str(cfg)]) == 0
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# 品牌舆情周报 · 全部品牌 · 2026-11-16 – 2026-11-22")
    assert sorted(p.name for p in (tmp_path / "all-charts").iterdir()) == [
        "platforms.png", "sentiment.png", "share_of_voice.png", "trend.png"]


def test_database_only_in_a_subprocess(filled: sa.Engine, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "month.html"
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "report", "--period", "month", "--end", "2026-11-30", "--format",
         "html", "--out", str(out), "--db", db_url],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    assert "品牌舆情月报 · 全部品牌 · 2026-11" in page and ">acme<" in page  # brands named by id


@pytest.mark.skipif(find_chromium() is None, reason="pdf needs Chromium (Debian package chromium)")
def test_pdf(filled: sa.Engine, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "acme.pdf"
    assert main(["report", "--period", "week", "--end", str(LAST_DAY), "--brand", "acme", "--format", "pdf",
                 "--out", str(out), "--db", db_url]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 50_000  # text, four charts


@pytest.mark.parametrize(("args", "message"), [
    (["--brand", "zzz"], "brandpulse: cannot report on unknown brand 'zzz' (known: acme, beta)"),
    (["--end", "next tuesday"], "brandpulse: end: expected a date such as 2026-11-22, 'today' or 'yesterday', "
                                "got 'next tuesday'"),
    (["--tz", "Mars/Base"], "brandpulse: --tz: unknown time zone 'Mars/Base' (an IANA name such as Asia/Shanghai)"),
])
def test_bad_input_is_one_line(filled: sa.Engine, db_url: str, tmp_path: Path, args: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, db_url)
    rc = main(["report", "--period", "week", "--out", str(tmp_path / "r.html"), "-c", str(cfg), *args])
    err = capsys.readouterr().err
    assert rc == 1 and err.strip() == message
    assert not (tmp_path / "r.html").exists()


def test_missing_output_folder(filled: sa.Engine, db_url: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["report", "--period", "week", "--out", str(tmp_path / "no" / "r.html"), "--db", db_url])
    assert rc == 1 and f"folder {str(tmp_path / 'no')!r} does not exist" in capsys.readouterr().err
