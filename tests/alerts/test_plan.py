from __future__ import annotations

import copy
from pathlib import Path

import pytest

from alerts.plan import PLAN_KEYS, CrisisPlan, format_duration, load_plan, parse_duration
from monitor.errors import ConfigError, ConfigErrors

from .conftest import NOTIFIERS, PLAN

ROOT = Path(__file__).resolve().parents[2]


def test_good_plan_parses_with_durations_and_defaults() -> None:
    data = copy.deepcopy(PLAN)
    del data["repeat_every"], data["baseline_days"]
    plan = load_plan(data, notifier_ids=NOTIFIERS)
    assert isinstance(plan, CrisisPlan)
    assert plan.bucket == 900 and plan.resolve_after == 3600
    assert plan.repeat_every == 4 * 3600 and plan.baseline_days == 7  # defaults
    assert [lvl.id for lvl in plan.levels] == ["warning", "crisis", "exec"]
    assert plan.level("crisis").ack_within == 900
    assert plan.level("crisis").when.negative_share == 0.5
    assert plan.next_level("warning").id == "crisis"  # type: ignore[union-attr]
    assert plan.next_level("exec") is None
    assert plan.contact("wang-wu").lang == "en" and plan.contact("li-si").lang is None  # None: the default
    assert plan.window_seconds(plan.levels[0]) == 900  # default window: one bucket


def test_window_rounds_up_to_whole_buckets() -> None:
    data = copy.deepcopy(PLAN)
    data["levels"][0]["when"]["window"] = "20m"
    plan = load_plan(data, notifier_ids=NOTIFIERS)
    assert plan.window_seconds(plan.levels[0]) == 1800


@pytest.mark.parametrize(
    "text, seconds",
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), (600, 600), ("1.5h", 5400), ("45", 45)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["15 minutes", "0s", -5, "1w", True, "", 1.5])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(bad)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (45, 900, 5400, 7200, 86400)] == ["45s", "15m", "90m", "2h", "1d"]


def test_every_problem_is_named_at_once() -> None:
    data = copy.deepcopy(PLAN)
    data["bucket"] = "15 minutes"  # bad duration
    data["colour"] = "red"  # unknown key
    data["contacts"][1]["channels"] = ["hook", "wecom"]  # channel not configured
    data["contacts"].append(dict(data["contacts"][0]))  # duplicate contact id
    data["levels"][0]["notify"] = ["zhang-san", "zhao-liu"]  # unknown contact
    data["levels"][1]["id"] = "warning"  # duplicate level id
    data["levels"][1]["ack_within"] = "soon"  # bad duration
    data["levels"][2]["when"] = {"min_negative": 5}  # no relative condition
    del data["levels"][2]["name"]  # missing key
    with pytest.raises(ConfigErrors) as info:
        load_plan(data, file="plan.yaml", notifier_ids=NOTIFIERS)
    lines = info.value.lines()
    assert lines == [
        "plan.yaml: bucket: bad duration '15 minutes' (use seconds or 90s/15m/2h/1d)",
        "plan.yaml: colour: unknown key 'colour'",
        "plan.yaml: contacts[1].channels[1]: unknown notifier 'wecom' (known: console, hook)",
        "plan.yaml: contacts[3].id: duplicate contact id 'zhang-san'",
        "plan.yaml: levels[0].notify[1]: unknown contact 'zhao-liu' (known: li-si, wang-wu, zhang-san)",
        "plan.yaml: levels[1].ack_within: bad duration 'soon' (use seconds or 90s/15m/2h/1d)",
        "plan.yaml: levels[1].id: duplicate level id 'warning'",
        "plan.yaml: levels[2].name: required key missing",
        "plan.yaml: levels[2].when: set negative_spike and/or negative_share (min_negative alone would page "
        "on any busy day)",
    ]
    assert str(info.value).startswith("plan.yaml: bucket: bad duration '15 minutes'")
    assert "(and 8 more problems)" in str(info.value)


def test_empty_levels_and_out_of_range_values() -> None:
    with pytest.raises(ConfigError, match=r"^plan.yaml: levels: must not be empty$"):
        load_plan({"levels": []}, file="plan.yaml", notifier_ids=NOTIFIERS)
    data = copy.deepcopy(PLAN)
    data["levels"][0]["when"]["negative_share"] = 1.5
    data["levels"][0]["id"] = "Warning Level"
    with pytest.raises(ConfigErrors) as info:
        load_plan(data, file="plan.yaml", notifier_ids=NOTIFIERS)
    assert info.value.lines() == [
        "plan.yaml: levels[0].id: 'Warning Level' is not a valid id "
        "(lower-case letters, digits, '-', '_', '.')",
        "plan.yaml: levels[0].when.negative_share: Input should be less than or equal to 1 (got 1.5)",
    ]


def test_plan_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read crisis plan"):
        load_plan(missing, notifier_ids=NOTIFIERS)
    bad = tmp_path / "bad.yaml"
    bad.write_text("levels:\n  - id: x\n    name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+: not valid YAML"):
        load_plan(bad, notifier_ids=NOTIFIERS)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"list.yaml: a crisis plan is a mapping of keys, got list"):
        load_plan(listy, notifier_ids=NOTIFIERS)


def test_example_plan_loads_and_documents_every_key() -> None:
    path = ROOT / "config" / "crisis_plan.example.yaml"
    plan = load_plan(path, notifier_ids={"console", "ops-webhook"})
    assert [lvl.id for lvl in plan.levels] == ["watch", "warning", "crisis", "executive"]
    assert plan.levels[-1].when is None  # reached by escalation only
    assert plan.bucket == 900 and plan.repeat_every == 4 * 3600
    text = path.read_text(encoding="utf-8")
    # Every key a plan can have appears in the example with a comment beside or above it.
    keys = PLAN_KEYS
    for key in sorted(keys):
        lines = [i for i, line in enumerate(text.splitlines()) if line.lstrip("# -").startswith(f"{key}:")]
        assert lines, f"key {key!r} missing from crisis_plan.example.yaml"
        assert any(
            "#" in text.splitlines()[i] or text.splitlines()[i - 1].lstrip().startswith("#") for i in lines
        ), f"key {key!r} has no comment"


def test_example_plan_rejects_unconfigured_channel() -> None:
    with pytest.raises(ConfigError, match=r"unknown notifier 'ops-webhook' \(known: console\)"):
        load_plan(ROOT / "config" / "crisis_plan.example.yaml", notifier_ids={"console"})


def test_crisis_keyword_condition_is_validated() -> None:
    import copy

    raw = copy.deepcopy(PLAN)
    raw["levels"][0]["when"] = {"crisis_keyword": {"min_mentions": 3}, "window": "30m"}  # alone is fine
    raw["levels"][1]["when"]["crisis_keyword"] = {"min_followers": 100000}
    plan = load_plan(raw, notifier_ids=NOTIFIERS)
    assert plan.levels[0].when is not None and plan.levels[0].when.crisis_keyword is not None
    assert plan.levels[0].when.crisis_keyword.min_mentions == 3

    bad = copy.deepcopy(PLAN)
    bad["levels"][0]["when"] = {"crisis_keyword": {}}
    bad["levels"][1]["when"] = {"crisis_keyword": {"min_mentions": 3}, "min_negative": 5}
    bad["levels"][2]["when"]["crisis_keyword"] = {"min_followers": 0, "min_reach": 1}
    with pytest.raises(ConfigErrors) as info:
        load_plan(bad, file="plan.yaml", notifier_ids=NOTIFIERS)
    text = "\n".join(info.value.lines())
    assert "levels[0].when.crisis_keyword: set min_followers and/or min_mentions" in text
    assert "levels[1].when: min_negative qualifies a spike condition" in text
    assert "levels[2].when.crisis_keyword.min_followers" in text
    assert "unknown key 'min_reach'" in text
