"""Property-based tests (hypothesis): whatever strangers write and whatever a config holds,
nothing escapes but our own errors, each with a one-line message.

- nlp.normalize and TextForms, nlp.brands.BrandMatcher: any text, any brand names;
- sources.fieldmap.RowMapper: any JSON-like row under any field map -> a RawItem or a
  ParseError naming where;
- monitor.settings.load_config (and the daemon's build_parts: sources, notifiers, plan) on
  YAML made by mutating the reference config: a Config or a ConfigError naming the key.

Examples are bounded so the whole module takes seconds; hypothesis keeps no database in the
checkout (``database=None``), and a failure prints the example that reproduces it.
"""

from __future__ import annotations

import copy
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.clock import FixedClock
from monitor.errors import BrandPulseError, ParseError
from monitor.models import Brand, RawItem
from nlp.brands import BrandMatcher
from nlp.normalize import TextForms, clean, normalize, split_repost, to_simplified
from nlp.process import TextProcessor
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel
from sources.fieldmap import FieldMap, RowMapper, parse_count

ROOT = Path(__file__).resolve().parents[2]
FAST = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Text as strangers write it: CJK (Simplified and Traditional), full-width forms, emoji,
# combining marks, zero-width and bidi controls, markup, URLs, @-mentions, repost chains.
# (No lone surrogates: RawItem replaces them before any text reaches nlp; the TextProcessor
# property below feeds them through that door.)
ALPHABET = st.sampled_from(
    list("阿克米咖啡青禾乳业星河手機門開發這個太差了！？，。、“”《》（）#@//:") + list(string.printable)
    + ["\u200b", "\u200d", "\u202e", "\ufeff", "\u0301", "\u3000", "\uff21", "\uff41", "😡", "\U0001f1e8", "\x00"])
TEXTS = st.text(alphabet=ALPHABET, max_size=80) | st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
PIECES = st.sampled_from(["//@某人:", "转发微博", "<b>", "</p>", "&amp;", "&#x4e2d;", "http://t.cn/abc", "@all ",
                          "#话题#", "回复@张三:", "\n", "  ", "ACME", "阿克米咖啡", "[图片]", "【转】"])
MARKED_UP = st.lists(TEXTS | PIECES, max_size=8).map("".join)


def _one_line(err: BaseException) -> None:
    assert isinstance(err, BrandPulseError), f"{type(err).__name__} escaped: {err!r}"
    message = str(err)
    assert message and "\n" not in message, repr(message)


@FAST
@given(MARKED_UP)
def test_normalisation_never_raises_and_is_stable(text: str) -> None:
    for fn in (clean, normalize, to_simplified):
        assert isinstance(fn(text), str)
    forms = TextForms.of(text)
    assert isinstance(forms.scoring_text(), str) and isinstance(forms.repost_only, bool)
    own, chain = split_repost(text)
    assert isinstance(own, str) and all(isinstance(c, str) for c in chain)


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()


NAMES = st.text(alphabet=ALPHABET, min_size=0, max_size=12)


@FAST
@given(brands=st.lists(st.tuples(NAMES, st.lists(NAMES, max_size=3), st.lists(NAMES, max_size=2)),
                       min_size=1, max_size=4),
       text=MARKED_UP)
def test_brand_matching_never_raises_and_only_reports_configured_brands(
        segmenter: Segmenter, brands: list[tuple[str, list[str], list[str]]], text: str) -> None:
    configured = [Brand(f"b{i}", name or f"b{i}", tuple(aliases), tuple(excl))
                  for i, (name, aliases, excl) in enumerate(brands)]
    try:
        matcher = BrandMatcher(configured)
    except BrandPulseError as exc:
        _one_line(exc)
        return
    normalized = normalize(text)
    tokens = segmenter.tokens(normalized)
    detail = matcher.match_detail(normalized, tokens)
    ids = {b.id for b in configured}
    assert {m.brand for m in detail.matches} <= ids and {m.brand for m in detail.excluded} <= ids
    assert not {m.brand for m in detail.matches} & {m.brand for m in detail.excluded}
    for m in detail.matches:
        assert 0 <= m.start <= len(normalized)


@pytest.fixture(scope="module")
def processor(segmenter: Segmenter) -> TextProcessor:
    return TextProcessor([Brand("acme", "阿克米咖啡", ("阿克米", "ACME")), Brand("qinghe", "青禾乳业", ("青禾",))],
                         model=SentimentModel.load(), segmenter=segmenter)


@FAST
@given(st.lists(st.tuples(MARKED_UP | st.text(max_size=30), st.none() | TEXTS), min_size=1, max_size=5))
def test_the_nlp_entry_point_takes_any_item(processor: TextProcessor, items: list[tuple[str, str | None]]) -> None:
    """RawItems with any text and title (lone surrogates included): every one ends a Mention or
    a counted drop, never an exception."""
    raw = [RawItem(source_id="s", external_id=f"e{i}", text=body, title=title) for i, (body, title) in enumerate(items)]
    result = processor.process(raw, fetched_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert len(result.mentions) + len(result.dropped) == len(raw)
    for m in result.mentions:
        assert m.brands and 0.0 <= m.sentiment.score <= 1.0


def test_a_brand_named_in_the_text_is_found(segmenter: Segmenter) -> None:
    """The property above would pass for a matcher that finds nothing; this anchors it."""
    matcher = BrandMatcher([Brand("acme", "阿克米咖啡", ("ACME",))])
    for text in ("今天喝了阿克米咖啡，不错", "ACME coffee is great", "阿克米咖啡😡太差了"):
        norm = normalize(text)
        assert [m.brand for m in matcher.match(norm, segmenter.tokens(norm))] == ["acme"], text


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
COLUMNS = st.sampled_from(["id", "text", "time", "user", "likes", "a.b", "a.0", "x"])
TIMES = st.sampled_from(["2026-03-02T09:00:00+08:00", "2026/03/02 09:00", "2026年3月2日", "1700000000",
                         "1700000000000", "9999-12-31T23:59:59", "0001-01-01 00:00", "-1e20", "NaN", "24:61"])


ROWS = (st.fixed_dictionaries({}, optional={c: JSONISH | TIMES for c in ("id", "text", "time", "user", "likes", "x")}
                               | {"a": st.dictionaries(st.sampled_from(["b", "0"]), JSONISH, max_size=2)
                                  | st.lists(JSONISH, max_size=2)})
        | st.dictionaries(st.text(max_size=6), JSONISH, max_size=4) | JSONISH)


@FAST
@example(row={"text": "阿克米咖啡", "likes": float("nan"), "x": "9" * 400},
         fields={"text": "text", "engagement": ["likes"], "followers": "x"}, time_format=None, shift=0.0)
@example(row={"text": "阿克米咖啡", "likes": float("inf")}, fields={"text": "text", "engagement": ["likes"]},
         time_format=None, shift=0.0)
@example(row={"text": "t", "time": "9999-12-31T23:59:59+00:00"}, fields={"text": "text", "time": "time"},
         time_format=None, shift=86400.0)
@example(row={"text": "t", "time": "0001-01-01 00:00"}, fields={"text": "text", "time": "time"},
         time_format=None, shift=-86400.0)
@example(row={"text": "t", "time": 1e300}, fields={"text": "text", "time": "time"}, time_format=None, shift=0.0)
@given(row=ROWS,
       fields=st.fixed_dictionaries({"text": COLUMNS}, optional={
           "id": COLUMNS, "time": COLUMNS, "author": COLUMNS, "title": COLUMNS, "url": COLUMNS,
           "followers": COLUMNS, "engagement": st.lists(COLUMNS, max_size=3), "platform": COLUMNS}),
       time_format=st.none() | st.sampled_from(["%Y-%m-%d %H:%M", "%s", "%Y年%m月%d日", "%%"]),
       shift=st.floats(min_value=-1e12, max_value=1e12))
def test_field_mapping_gives_a_raw_item_or_a_parse_error_naming_where(
        row: Any, fields: dict[str, Any], time_format: str | None, shift: float) -> None:
    mapper = RowMapper("src", FieldMap.model_validate(fields), tz=ZoneInfo("Asia/Shanghai"),
                       time_format=time_format, platform="weibo")
    try:
        item = mapper.map(row, where="export.jsonl", line=7, shift=shift)
    except ParseError as exc:
        _one_line(exc)
        assert "export.jsonl:7" in str(exc) and "source=src" in str(exc)
        return
    except BrandPulseError as exc:
        pytest.fail(f"only ParseError is expected from a row, got {exc!r}")
    assert isinstance(item, RawItem) and item.text and item.external_id
    assert item.published_at is None or item.published_at.utcoffset() is not None


@FAST
@given(JSONISH | st.from_regex(r"\s*[0-9][0-9,]{0,400}(\.[0-9]+)?\s*(万|w|亿|k|千)?\+?\s*", fullmatch=True))
def test_counts_are_none_or_non_negative_ints(value: Any) -> None:
    got = parse_count(value)
    assert got is None or (isinstance(got, int) and got >= 0)


# --- config loading ----------------------------------------------------------------------


def _reference() -> dict[str, Any]:
    """The reference config with its plan inline, so one document covers every setting."""
    cfg = yaml.safe_load((ROOT / "config" / "brandpulse.example.yaml").read_text(encoding="utf-8"))
    cfg["plan"] = yaml.safe_load((ROOT / "config" / "crisis_plan.example.yaml").read_text(encoding="utf-8"))
    cfg["storage"] = {"url": "sqlite:///brandpulse.db"}
    cfg.get("nlp", {}).pop("user_dict", None)
    cfg.get("nlp", {}).pop("crisis_keywords", None)
    return cfg


REFERENCE = _reference()


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(REFERENCE)
ENV_NAMES = sorted({str(v) for p in PATHS if str(p[-1]).endswith("_env")
                    for v in [_get(REFERENCE, p)] if isinstance(v, str)})
VALUES = JSONISH | st.sampled_from(["", "0", "-1s", "1e999", "15m", "2h", "abc", "sqlite://", "127.0.0.1:99999",
                                    "[", "{", "*", "../../etc/passwd", "💥", "null"])


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    cfg = copy.deepcopy(REFERENCE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = cfg
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["set", "delete", "add"]))
            if action == "set":
                parent[path[-1]] = draw(VALUES)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this branch
    return cfg


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cfg=mutated_configs())
def test_any_config_loads_or_fails_with_a_config_error_naming_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cfg: dict[str, Any]) -> None:
    from monitor.daemon import build_parts
    from monitor.settings import load_config

    for name in ENV_NAMES:  # the secrets the reference config names exist, so notifiers get built
        monkeypatch.setenv(name, f"value-of-{name.lower()}-0123456789")
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    try:
        config = load_config(path)
        parts = build_parts(config, FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    except BrandPulseError as exc:
        _one_line(exc)
        return
    for source, _ in parts.sources:
        source.close()


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_file_content_loads_or_fails_with_a_config_error(tmp_path: Path, content: str) -> None:
    from monitor.settings import load_config

    path = tmp_path / "brandpulse.yaml"
    path.write_bytes(content.encode("utf-8", "surrogatepass"))
    try:
        load_config(path, environ={})
    except BrandPulseError as exc:
        _one_line(exc)
