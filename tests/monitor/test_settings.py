"""Config loading: good files load, and every bad file fails with its one expected line.

Each tests/data/config/config.<what-is-wrong>.yaml starts with ``# expect: <text>``; the
error message must contain that text (file name, key path and problem, on one line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError, ConfigErrors
from monitor.settings import load_config, parse_duration, resolve_sqlite_url

DATA = Path(__file__).resolve().parent.parent / "data" / "config"
SETTINGS_ONLY = sorted(p for p in DATA.glob("config.*.yaml")
                       if p.name not in ("config.good.yaml", "config.bad-source-kind.yaml",
                                         "config.bad-notifier.yaml"))


def expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: '"
    return first.removeprefix("# expect: ")


def test_good_config_loads() -> None:
    cfg = load_config(DATA / "config.good.yaml")
    assert [b.id for b in cfg.brands] == ["acme"]
    assert cfg.brands[0].all_aliases() == ("阿克米咖啡", "阿克米", "ACME Coffee")
    assert cfg.sources[0].interval == 30.0
    assert cfg.sources[0].options == {"path": "mentions.jsonl", "fields": {"id": "id", "text": "text", "time": "time"}}
    # relative SQLite paths resolve against the config file's folder, not the working directory
    assert cfg.storage_url == f"sqlite:///{DATA / 'brandpulse.db'}"
    assert cfg.plan is not None and cfg.plan["levels"][0]["id"] == "warning"
    assert cfg.resolve("mentions.jsonl") == DATA / "mentions.jsonl"


@pytest.mark.parametrize("path", SETTINGS_ONLY, ids=lambda p: p.name)
def test_bad_config_gives_one_clear_line(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    lines = info.value.lines() if isinstance(info.value, ConfigErrors) else [str(info.value)]
    assert all("\n" not in line for line in lines)
    assert any(expected(path) in line for line in lines), lines


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "many.yaml"
    bad.write_text(
        "brands: [{id: acme, name: ACME, colour: red}]\n"
        "sources: [{id: s, kind: file, interval: -5}]\n"
        "nlp: {neutral_band: [0.8, 0.2]}\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as info:
        load_config(bad)
    text = "\n".join(info.value.lines())
    assert "brands[0].colour: unknown key" in text
    assert "sources[0].interval" in text
    assert "nlp.neutral_band" in text


def test_storage_url_from_environment(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("brands: [{id: acme, name: ACME}]\nstorage: {url_env: BP_DB}\n", encoding="utf-8")
    cfg = load_config(cfg_file, environ={"BP_DB": "postgresql+psycopg://u:secret@db/x"})
    assert cfg.storage_url == "postgresql+psycopg://u:secret@db/x"


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_config(DATA / "nope.yaml")


@pytest.mark.parametrize("text,seconds", [(30, 30.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0),
                                          ("1d", 86400.0), ("500ms", 0.5), (" 1.5h ", 5400.0)])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-5s", "", True, [1], -1])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="expected a duration|must not be negative"):
        parse_duration(bad)


def test_resolve_sqlite_url(tmp_path: Path) -> None:
    assert resolve_sqlite_url("sqlite:///a/b.db", tmp_path) == f"sqlite:///{tmp_path / 'a' / 'b.db'}"
    assert resolve_sqlite_url("sqlite:////abs/b.db", tmp_path) == "sqlite:////abs/b.db"
    assert resolve_sqlite_url("postgresql+psycopg://h/db", tmp_path) == "postgresql+psycopg://h/db"


def test_crisis_keywords_path_resolves_against_the_config(tmp_path: Path) -> None:
    (tmp_path / "dict").mkdir()
    (tmp_path / "dict" / "crisis.txt").write_text("召回\nrecall\n", encoding="utf-8")
    text = (DATA / "config.good.yaml").read_text(encoding="utf-8")
    (tmp_path / "c.yaml").write_text("nlp: {crisis_keywords: dict/crisis.txt}\n" + text, encoding="utf-8")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.nlp.crisis_keywords == "dict/crisis.txt"
    assert cfg.resolve(cfg.nlp.crisis_keywords) == tmp_path / "dict" / "crisis.txt"
    assert load_config(DATA / "config.good.yaml").nlp.crisis_keywords is None  # default: none
