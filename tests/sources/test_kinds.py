from __future__ import annotations

import json

import pytest

from monitor.errors import ConfigError, ConfigErrors
from sources import SOURCE_KINDS, PollResult, Source, build_source, resolve_source_kind
from sources.base import strip_html
from sources.files import FileSource
from sources.push import PushSource
from sources.rss import RssSource


def test_kind_table_and_resolution():
    assert SOURCE_KINDS == {"rss": RssSource, "file": FileSource, "push": PushSource}
    assert resolve_source_kind("rss") is RssSource
    for cls in SOURCE_KINDS.values():
        assert cls.kind in SOURCE_KINDS and SOURCE_KINDS[cls.kind] is cls and cls.kind.islower()


def test_unknown_kind_names_the_valid_kinds(tmp_path, clock):
    with pytest.raises(ConfigError) as exc:
        build_source("s", "twitter", {}, base_dir=tmp_path, clock=clock)
    assert exc.value.key_path == "kind"
    assert str(exc.value) == "kind: unknown source kind 'twitter' (valid kinds: file, push, rss)"


def test_built_sources_satisfy_the_protocol(tmp_path, clock):
    rss = build_source("a", "rss", {"url": "https://example.com/feed.xml"}, base_dir=tmp_path, clock=clock)
    file = build_source(
        "b", "file", {"path": "x.jsonl", "fields": {"text": "t"}}, base_dir=tmp_path, clock=clock
    )
    for src in (rss, file):
        assert isinstance(src, Source) and src.id in ("a", "b")
        src.close()
    result = PollResult([], {"a": 1})
    assert result.more is False and result.errors == [] and json.loads(json.dumps(result.cursor)) == {"a": 1}


def problems(options: dict, tmp_path, clock, kind: str = "file") -> list[tuple[str | None, str]]:
    with pytest.raises(ConfigError) as exc:
        build_source("s", kind, options, base_dir=tmp_path, clock=clock)
    errs = exc.value.errors if isinstance(exc.value, ConfigErrors) else [exc.value]
    return [(e.key_path, e.problem) for e in errs]


def test_unknown_key(tmp_path, clock):
    [(key, problem)] = problems({"path": "a.jsonl", "fields": {"text": "t"}, "pathh": "b"}, tmp_path, clock)
    assert key == "pathh" and problem.startswith("unknown key 'pathh' (valid keys: ")
    [(key, problem)] = problems({"path": "a.jsonl", "fields": {"text": "t", "likes": "x"}}, tmp_path, clock)
    assert key == "fields.likes" and "valid keys: author, engagement, followers, id" in problem


def test_both_path_and_url(tmp_path, clock):
    [(key, problem)] = problems(
        {"path": "a.jsonl", "url": "https://x.example/a.jsonl", "fields": {"text": "t"}}, tmp_path, clock
    )
    assert key is None and problem == "set exactly one of path, glob, url (got path and url)"
    [(_, problem)] = problems({"fields": {"text": "t"}}, tmp_path, clock)
    assert "(got none)" in problem


def test_missing_fields_text(tmp_path, clock):
    assert problems({"path": "a.jsonl", "fields": {"id": "mid"}}, tmp_path, clock) == [
        ("fields.text", "required key is missing")
    ]


def test_every_problem_is_reported_at_once(tmp_path, clock):
    got = problems(
        {
            "glob": "*.xml",
            "fields": {"id": "x"},
            "encoding": "utf-16",
            "timezone": "Mars/Base",
            "max_items_per_poll": 0,
            "delimiter": ";;",
            "replay": "perhaps",
        },
        tmp_path,
        clock,
    )
    keys = [k for k, _ in got]
    assert keys == [
        "format",
        "encoding",
        "delimiter",
        "fields.text",
        "timezone",
        "max_items_per_poll",
        "replay",
    ]
    assert dict(got)["format"] == "cannot tell the format from '*.xml'; set format: json, jsonl or csv"
    assert "(got 'utf-16')" in dict(got)["encoding"]
    with pytest.raises(ConfigErrors) as exc:
        build_source("s", "file", {"glob": "*.xml", "fields": {"id": "x"}}, base_dir=tmp_path, clock=clock)
    assert str(exc.value).endswith("(and 1 more problems)") and len(exc.value.lines()) == 2


def test_strip_html():
    assert (
        strip_html("<p>阿克米 &amp; <b>ACME</b></p><script>x()</script><p>第二段&nbsp;</p>")
        == "阿克米 & ACME\n第二段"
    )
    assert strip_html("a &lt; b") == "a < b"
    assert strip_html("  plain   text \n\n more ") == "plain text\nmore"


@pytest.mark.parametrize("kind", ["file", "push"])
@pytest.mark.parametrize("preset", [["weibo"], {"name": "weibo"}, 3])
def test_a_preset_that_is_not_a_name_is_a_config_error_not_a_crash(tmp_path, clock, monkeypatch, kind, preset):
    """Found by the config property test: `preset: [weibo]` raised TypeError (unhashable list)
    out of the options model instead of a ConfigError naming the key."""
    monkeypatch.setenv("BP_TEST_PUSH_SECRET", "s" * 32)
    options = {"preset": preset, "fields": {"text": "text"}}
    options |= {"path": "x.jsonl"} if kind == "file" else {"secret_env": "BP_TEST_PUSH_SECRET"}
    with pytest.raises(ConfigError) as exc:
        build_source("s1", kind, options, base_dir=tmp_path, clock=clock)
    assert "preset" in str(exc.value) and "\n" not in str(exc.value)
