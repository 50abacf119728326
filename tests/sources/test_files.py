from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import FetchError, ParseError
from sources.base import PollResult
from sources.files import FileSource
from tests.sources.helpers import DATA, data, make_source

JSONL_FIELDS = {
    "id": "mid",
    "text": "text",
    "author": "user",
    "time": "created_at",
    "engagement": ["reposts", "comments", "likes"],
    "followers": "followers",
}


def src(tmp_path: Path, clock, **opts: Any) -> FileSource:
    s = make_source("file", opts, base_dir=tmp_path, clock=clock, source_id="files")
    assert isinstance(s, FileSource)
    return s


def poll(s: FileSource, cursor: dict | None) -> PollResult:
    """Poll and round-trip the cursor through JSON, as the store does."""
    r = s.poll(cursor)
    return PollResult(r.items, json.loads(json.dumps(r.cursor)), r.more, r.errors)


def line(mid: str, text: str = "阿克米咖啡", **kw: Any) -> str:
    row = {
        "mid": mid,
        "text": text,
        "user": "u" + mid,
        "created_at": "2026-03-01 10:00:00",
        "reposts": 1,
        "comments": 2,
        "likes": 3,
        "followers": 10,
        **kw,
    }
    return json.dumps(row, ensure_ascii=False) + "\n"


def append(path: Path, text: str, encoding: str = "utf-8") -> None:
    with open(path, "a", encoding=encoding, newline="") as f:
        f.write(text)


def ids(result: PollResult) -> list[str]:
    return [i.external_id for i in result.items]


# --- JSONL ------------------------------------------------------------------------------


def test_jsonl_is_read_incrementally_and_a_half_written_line_waits(tmp_path, clock):
    path = tmp_path / "weibo.jsonl"
    path.write_text(line("1") + line("2"), encoding="utf-8")
    s = src(tmp_path, clock, path="weibo.jsonl", fields=JSONL_FIELDS)
    first = poll(s, None)
    assert ids(first) == ["1", "2"] and first.errors == [] and first.more is False
    item = first.items[0]
    assert item.author == "u1" and item.engagement == 6 and item.author_followers == 10
    assert item.published_at == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # Asia/Shanghai by default
    assert item.extra["origin"] == "weibo.jsonl:1"

    half = line("4")
    append(path, line("3") + half[:15])  # the writer is in the middle of line 4
    second = poll(s, first.cursor)
    assert ids(second) == ["3"]
    assert second.cursor["files"]["weibo.jsonl"]["line"] == 4

    append(path, half[15:] + line("5"))
    third = poll(s, second.cursor)
    assert ids(third) == ["4", "5"] and third.items[0].extra["origin"] == "weibo.jsonl:4"
    assert poll(s, third.cursor).items == []


def test_a_last_line_without_newline_is_taken_once_the_file_is_settled(tmp_path, clock):
    path = tmp_path / "x.jsonl"
    path.write_text(line("1") + line("2").rstrip("\n"), encoding="utf-8")
    s = src(tmp_path, clock, path="x.jsonl", fields=JSONL_FIELDS)
    first = poll(s, None)
    assert ids(first) == ["1"]
    second = poll(s, first.cursor)  # unchanged for a whole poll: the writer is done
    assert ids(second) == ["2"]
    append(path, "\n" + line("3"))
    assert ids(poll(s, second.cursor)) == ["3"]


def test_a_broken_line_is_reported_with_its_line_number_and_skipped(tmp_path, clock):
    path = tmp_path / "x.jsonl"
    path.write_text(
        line("1")
        + '{"mid": "2", "text": \n'
        + "\n"
        + '["not", "an", "object"]\n'
        + line("5", created_at="31/02/2026")
        + line("6", text="  ")
        + line("7"),
        encoding="utf-8",
    )
    result = poll(src(tmp_path, clock, path="x.jsonl", fields=JSONL_FIELDS), None)
    assert ids(result) == ["1", "7"]
    assert [e.line for e in result.errors] == [2, 4, 5, 6]
    msgs = [str(e) for e in result.errors]
    assert msgs[0].startswith("source=files url=x.jsonl:2: invalid JSON")
    assert "expected a JSON object, got list" in msgs[1]
    assert "cannot read time column 'created_at' value '31/02/2026'" in msgs[2]
    assert "text column 'text' is missing or empty" in msgs[3]
    assert result.cursor["files"]["x.jsonl"]["line"] == 8  # the bad rows are behind us


def test_nested_columns_and_epoch_times(tmp_path, clock):
    rows = [
        {"id": 1, "text": "a", "user": {"name": "小王", "followers_count": "2.5万"}, "ts": 1772409600},
        {"id": 2, "text": "b", "user": {"name": "x"}, "ts": 1772409600123},
    ]
    (tmp_path / "n.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = src(
        tmp_path,
        clock,
        path="n.ndjson",
        fields={
            "id": "id",
            "text": "text",
            "author": "user.name",
            "followers": "user.followers_count",
            "time": "ts",
        },
    )
    a, b = poll(s, None).items
    assert (a.external_id, a.author, a.author_followers) == ("1", "小王", 25000)
    assert a.published_at == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    assert b.published_at == datetime(2026, 3, 2, 0, 0, 0, 123000, tzinfo=UTC)  # milliseconds


def test_missing_file_is_a_retryable_fetch_error_naming_the_path(tmp_path, clock):
    s = src(tmp_path, clock, path="exports/none.jsonl", fields=JSONL_FIELDS)
    with pytest.raises(FetchError) as exc:
        s.poll(None)
    assert exc.value.retryable is True
    assert repr(str(tmp_path / "exports" / "none.jsonl")) in str(exc.value)


# --- CSV --------------------------------------------------------------------------------


def test_csv_with_bom_chinese_headers_and_a_multiline_field(tmp_path, clock):
    shutil.copy(DATA / "weibo_export.csv", tmp_path / "weibo.csv")
    assert data("weibo_export.csv").startswith(b"\xef\xbb\xbf")
    result = poll(src(tmp_path, clock, path="weibo.csv", preset="weibo"), None)
    assert result.errors == []
    a, b, c = result.items
    assert (a.external_id, a.author, a.author_followers, a.engagement) == ("4990001", "咖啡爱好者", 1520, 50)
    assert a.url == "https://weibo.com/1/4990001" and a.platform == "weibo"
    assert a.published_at == datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    assert b.text == '阿克米咖啡门店卫生问题\n第二行："后厨"照片曝光，求回应'
    assert (b.engagement, b.author_followers) == (12000 + 300 + 2000, 12000)  # 1.2万, 2k
    assert c.text == "ACME Coffee, again, 排队一小时" and c.engagement == 0  # "评论"/"赞" are no numbers
    assert c.published_at == datetime(2026, 3, 2, 1, 10, tzinfo=UTC)  # 2026/03/02 09:10 local
    assert [i.extra["origin"] for i in result.items] == ["weibo.csv:2", "weibo.csv:3", "weibo.csv:5"]


def test_csv_gb18030_export(tmp_path, clock):
    shutil.copy(DATA / "douyin_gb18030.csv", tmp_path / "douyin.csv")
    result = poll(src(tmp_path, clock, path="douyin.csv", preset="douyin", encoding="GB18030"), None)
    assert result.errors == []
    assert [i.text for i in result.items] == [
        "阿克米咖啡打卡，环境不错 #咖啡",
        "阿克米咖啡杯子漏了，烫伤了手𠀀",
    ]
    assert result.items[1].engagement == 560 + 230 + 70 + 2 and result.items[1].platform == "douyin"


def test_csv_in_the_wrong_encoding_says_so(tmp_path, clock):
    shutil.copy(DATA / "douyin_gb18030.csv", tmp_path / "douyin.csv")
    with pytest.raises(ParseError) as exc:
        poll(src(tmp_path, clock, path="douyin.csv", preset="douyin"), None)
    assert (
        "douyin.csv:1" in str(exc.value)
        and "not valid utf-8" in str(exc.value)
        and "gb18030" in str(exc.value)
    )


def test_csv_appends_including_a_multiline_field_still_being_written(tmp_path, clock):
    path = tmp_path / "live.csv"
    path.write_text("id,text,time\r\n1,first,2026-03-01T00:00:00Z\r\n", encoding="utf-8")
    s = src(tmp_path, clock, path="live.csv", fields={"id": "id", "text": "text", "time": "time"})
    first = poll(s, None)
    assert ids(first) == ["1"]
    append(path, '2,"second, with\r\n')  # a quoted field with a line break, not closed yet
    second = poll(s, first.cursor)
    assert (
        second.items == []
        and second.cursor["files"]["live.csv"]["offset"] == first.cursor["files"]["live.csv"]["offset"]
    )
    append(path, 'two lines",2026-03-01T00:01:00Z\r\n3,"say ""hi""",\r\n')
    third = poll(s, second.cursor)
    assert ids(third) == ["2", "3"]
    assert third.items[0].text == "second, with\ntwo lines" and third.items[1].text == 'say "hi"'
    assert third.items[1].published_at is None
    assert third.cursor["files"]["live.csv"]["line"] == 6


def test_csv_wrong_column_count_is_a_row_error(tmp_path, clock):
    (tmp_path / "x.csv").write_text('id,text\n1,ok\n2,too,many\n3\n\n4,"fine, really"\n', encoding="utf-8")
    result = poll(src(tmp_path, clock, path="x.csv", fields={"id": "id", "text": "text"}), None)
    assert ids(result) == ["1", "4"]
    assert [(e.line, "expected 2 columns" in str(e)) for e in result.errors] == [(3, True), (4, True)]


def test_tab_separated_export(tmp_path, clock):
    (tmp_path / "x.tsv").write_text("id\ttext\n1\t阿克米, 好喝\n", encoding="utf-8")
    s = src(tmp_path, clock, path="x.tsv", format="csv", delimiter="\t", fields={"id": "id", "text": "text"})
    assert [i.text for i in poll(s, None).items] == ["阿克米, 好喝"]


# --- JSON documents ---------------------------------------------------------------------


def test_json_object_with_a_list_key(tmp_path, clock):
    shutil.copy(DATA / "xhs_notes.json", tmp_path / "notes.json")
    fields = {
        "id": "note_id",
        "title": "title",
        "text": "desc",
        "author": "user.nickname",
        "followers": "user.fans",
        "time": "time",
        "engagement": ["likes", "collects"],
    }
    result = poll(
        src(tmp_path, clock, path="notes.json", list_key="data.list", fields=fields, platform="xiaohongshu"),
        None,
    )
    assert ids(result) == ["n1", "n2", "n5"]
    assert (
        result.items[0].text == "阿克米咖啡测评\n拿铁偏甜，环境好"
        and result.items[0].title == "阿克米咖啡测评"
    )
    assert result.items[1].engagement == 15000 and result.items[0].platform == "xiaohongshu"
    assert [e.entry for e in result.errors] == ["[2]", "[3]"]
    # without list_key the single array is found by itself... except here, where "data" holds it
    with pytest.raises(ParseError, match="set list_key"):
        poll(
            src(tmp_path, clock, path="notes.json", fields=fields),
            {"files": {"notes.json": {**_ident(tmp_path / "notes.json"), "pending": True}}},
        )


def _ident(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def test_json_array_rereads_on_change_and_skips_what_was_delivered(tmp_path, clock):
    path = tmp_path / "posts.json"
    rows = [{"id": str(i), "text": f"post {i}"} for i in range(3)]
    path.write_text(json.dumps(rows), encoding="utf-8")
    s = src(tmp_path, clock, path="posts.json", fields={"id": "id", "text": "text"})
    first = poll(s, None)
    assert ids(first) == ["0", "1", "2"]
    unchanged = poll(s, first.cursor)
    assert unchanged.items == [] and unchanged.cursor == first.cursor

    path.write_text(json.dumps(rows + [{"id": "3", "text": "post 3"}]), encoding="utf-8")  # appended
    appended = poll(s, unchanged.cursor)
    assert ids(appended) == ["3"]

    newest_first = [{"id": "4", "text": "post 4"}] + rows + [{"id": "3", "text": "post 3"}]
    path.write_text(json.dumps(newest_first), encoding="utf-8")  # regenerated, new record on top
    regenerated = poll(s, appended.cursor)
    assert ids(regenerated) == ["4", "0", "1", "2", "3"]  # all again: ids dedupe downstream


def test_json_being_written_waits_one_poll_then_is_an_error(tmp_path, clock):
    path = tmp_path / "posts.json"
    path.write_text('[{"id": "1", "text": "a"}, {"id": "2", "te', encoding="utf-8")
    s = src(tmp_path, clock, path="posts.json", fields={"id": "id", "text": "text"})
    first = poll(s, None)
    assert first.items == [] and first.errors == []
    with pytest.raises(ParseError) as exc:
        poll(s, first.cursor)  # still unreadable and unchanged: really broken
    assert "posts.json:1" in str(exc.value) and "unreadable JSON document" in str(exc.value)
    path.write_text('[{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]', encoding="utf-8")
    assert ids(poll(s, first.cursor)) == ["1", "2"]


# --- glob ----------------------------------------------------------------------------------


def test_glob_reads_several_files_in_sorted_order(tmp_path, clock):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "b.jsonl").write_text(line("b1"))
    (exports / "a.jsonl").write_text(line("a1") + line("a2"))
    (exports / "notes.txt").write_text("ignored")
    s = src(tmp_path, clock, glob="exports/*.jsonl", fields=JSONL_FIELDS)
    first = poll(s, None)
    assert ids(first) == ["a1", "a2", "b1"]
    assert sorted(first.cursor["files"]) == ["exports/a.jsonl", "exports/b.jsonl"]
    (exports / "c.jsonl").write_text(line("c1"))
    append(exports / "a.jsonl", line("a3"))
    second = poll(s, first.cursor)
    assert ids(second) == ["a3", "c1"] and second.items[1].extra["origin"] == "exports/c.jsonl:1"


def test_glob_one_unreadable_file_does_not_block_the_others(tmp_path, clock):
    (tmp_path / "a.json").write_text("[1, 2")  # broken for good
    (tmp_path / "b.json").write_text(json.dumps([{"id": "b", "text": "ok"}]))
    s = src(tmp_path, clock, glob="*.json", fields={"id": "id", "text": "text"})
    first = poll(s, None)
    assert ids(first) == ["b"] and first.errors == []  # a.json may still be being written
    second = poll(s, first.cursor)
    assert second.items == [] and len(second.errors) == 1 and "a.json" in str(second.errors[0])
    third = poll(s, second.cursor)
    assert third.errors == []  # reported once; again only after it changes


def test_glob_missing_directory_is_a_retryable_fetch_error(tmp_path, clock):
    s = src(tmp_path, clock, glob="nowhere/**/*.csv", fields={"text": "t"})
    with pytest.raises(FetchError) as exc:
        s.poll(None)
    assert exc.value.retryable and "nowhere" in str(exc.value)
    (tmp_path / "nowhere").mkdir()
    assert poll(s, None).items == []  # an empty folder is fine


# --- rotation and truncation --------------------------------------------------------------------


def test_replaced_file_is_read_from_the_start(tmp_path, clock):
    path = tmp_path / "app.jsonl"
    path.write_text(line("1") + line("2") + line("3"))
    s = src(tmp_path, clock, path="app.jsonl", fields=JSONL_FIELDS)
    first = poll(s, None)
    os.rename(path, tmp_path / "app.jsonl.1")  # logrotate: moved away, a new file created
    path.write_text(line("4") + line("5") + line("6") + line("7"))
    assert ids(poll(s, first.cursor)) == ["4", "5", "6", "7"]


def test_truncated_file_is_read_from_the_start(tmp_path, clock):
    path = tmp_path / "app.jsonl"
    path.write_text(line("1") + line("2"))
    s = src(tmp_path, clock, path="app.jsonl", fields=JSONL_FIELDS)
    first = poll(s, None)
    ino = path.stat().st_ino
    with open(path, "w") as f:  # copytruncate: same inode, shorter
        f.write(line("3"))
    assert path.stat().st_ino == ino
    assert ids(poll(s, first.cursor)) == ["3"]


def test_rewritten_in_place_with_other_content_is_read_from_the_start(tmp_path, clock):
    path = tmp_path / "app.jsonl"
    path.write_text(line("1") + line("2"))
    s = src(tmp_path, clock, path="app.jsonl", fields=JSONL_FIELDS)
    first = poll(s, None)
    with open(path, "r+") as f:  # same inode, not shorter, different first bytes
        f.write(line("8") + line("9") + line("10"))
    assert ids(poll(s, first.cursor)) == ["8", "9", "10"]


def test_a_file_renamed_within_the_glob_continues_where_it_was(tmp_path, clock):
    path = tmp_path / "app.jsonl"
    path.write_text(line("1") + line("2"))
    s = src(tmp_path, clock, glob="app.jsonl*", fields=JSONL_FIELDS)
    first = poll(s, None)
    append(path, line("3"))
    os.rename(path, tmp_path / "app.jsonl.1")
    path.write_text(line("4"))
    second = poll(s, first.cursor)
    assert ids(second) == ["4", "3"]  # app.jsonl (new) then app.jsonl.1 from its old offset


def test_rows_without_id_get_content_hash_ids_stable_across_files(tmp_path, clock):
    fields = {"text": "text", "author": "user", "time": "created_at", "engagement": "likes"}
    (tmp_path / "a.jsonl").write_text(line("x", text="同一条", user="u") + line("y", text="另一条", user="u"))
    (tmp_path / "b.jsonl").write_text(line("z", text="同一条", user="u", likes=999))  # re-export, new counts
    a = poll(src(tmp_path, clock, path="a.jsonl", fields=fields), None)
    b = poll(src(tmp_path, clock, path="b.jsonl", fields=fields), None)
    again = poll(src(tmp_path, clock, path="a.jsonl", fields=fields), None)
    assert all(i.startswith("sha1:") for i in ids(a))
    assert ids(a)[0] == ids(b)[0] and ids(a)[0] != ids(a)[1] and ids(again) == ids(a)


# --- budget and replay ------------------------------------------------------------------


def test_max_items_per_poll_sets_more_and_the_rest_follows(tmp_path, clock):
    exports = tmp_path / "e"
    exports.mkdir()
    (exports / "a.jsonl").write_text("".join(line(f"a{i}") for i in range(3)))
    (exports / "b.jsonl").write_text("".join(line(f"b{i}") for i in range(2)))
    s = src(tmp_path, clock, glob="e/*.jsonl", fields=JSONL_FIELDS, max_items_per_poll=2)
    got, cursor, polls = [], None, 0
    while True:
        r = poll(s, cursor)
        got += ids(r)
        cursor, polls = r.cursor, polls + 1
        assert len(r.items) <= 2
        if not r.more:
            break
    assert got == ["a0", "a1", "a2", "b0", "b1"] and polls == 3


def test_max_items_per_poll_for_a_json_document(tmp_path, clock):
    (tmp_path / "p.json").write_text(json.dumps([{"id": str(i), "text": "t"} for i in range(5)]))
    s = src(tmp_path, clock, path="p.json", fields={"id": "id", "text": "text"}, max_items_per_poll=3)
    first = poll(s, None)
    second = poll(s, first.cursor)
    assert (ids(first), first.more, ids(second), second.more) == (["0", "1", "2"], True, ["3", "4"], False)


def test_replay_shifts_the_newest_record_to_now_and_keeps_the_shift(tmp_path, clock):
    path = tmp_path / "demo.jsonl"
    path.write_text(
        line("1", created_at="2024-05-01T08:00:00+08:00") + line("2", created_at="2024-05-01T10:00:00+08:00")
    )
    s = src(tmp_path, clock, path="demo.jsonl", fields=JSONL_FIELDS, replay=True)
    first = poll(s, None)
    assert first.items[1].published_at == clock.now()
    assert first.items[0].published_at == clock.now() - timedelta(hours=2)
    shift = first.cursor["replay_shift"]
    assert shift == (clock.now() - datetime(2024, 5, 1, 2, 0, tzinfo=UTC)).total_seconds()

    clock.advance(hours=5)  # a restart later: a new instance with the saved cursor
    append(path, line("3", created_at="2024-05-01T11:00:00+08:00"))
    s.close()
    restarted = src(tmp_path, clock, path="demo.jsonl", fields=JSONL_FIELDS, replay=True)
    later = poll(restarted, first.cursor)
    assert later.cursor["replay_shift"] == shift
    assert later.items[0].published_at == datetime(2024, 5, 1, 3, 0, tzinfo=UTC) + timedelta(seconds=shift)


# --- url --------------------------------------------------------------------------------


def test_url_jsonl_with_conditional_get_and_appends(http_server, tmp_path, clock):
    state = {"body": (line("1") + line("2")).encode(), "etag": '"e1"'}

    def handler(rec):
        if rec.headers.get("If-None-Match") == state["etag"]:
            return 304, {"ETag": state["etag"]}, b""
        return 200, {"ETag": state["etag"], "Content-Type": "application/x-ndjson"}, state["body"]

    http_server.route("/export.jsonl", handler=handler)
    s = src(tmp_path, clock, url=http_server.url("/export.jsonl"), fields=JSONL_FIELDS)
    first = poll(s, None)
    assert (
        ids(first) == ["1", "2"] and first.items[0].extra["origin"] == http_server.url("/export.jsonl") + ":1"
    )
    not_modified = poll(s, first.cursor)
    assert not_modified.items == [] and not_modified.cursor == first.cursor

    state.update(body=state["body"] + line("3").encode() + line("4").encode().rstrip(b"\n"), etag='"e2"')
    appended = poll(s, not_modified.cursor)
    assert ids(appended) == ["3", "4"]  # a whole response: its last line is complete

    state.update(body=(line("9") + line("1")).encode(), etag='"e3"')  # regenerated
    assert ids(poll(s, appended.cursor)) == ["9", "1"]
    assert [r.headers.get("If-None-Match") for r in http_server.requests_to("/export.jsonl")] == [
        None,
        '"e1"',
        '"e1"',
        '"e2"',
    ]


def test_url_capped_poll_refetches_without_validators(http_server, tmp_path, clock):
    body = "id,text\n" + "".join(f"{i},row {i}\n" for i in range(5))
    http_server.route("/x.csv", body=body.encode(), headers={"ETag": '"v"'})
    s = src(
        tmp_path,
        clock,
        url=http_server.url("/x.csv"),
        fields={"id": "id", "text": "text"},
        max_items_per_poll=3,
    )
    first = poll(s, None)
    assert ids(first) == ["0", "1", "2"] and first.more and first.cursor["url"]["etag"] is None
    second = poll(s, first.cursor)
    assert ids(second) == ["3", "4"] and not second.more and second.cursor["url"]["etag"] == '"v"'


def test_url_fetch_errors_propagate(http_server, tmp_path, clock):
    s = src(tmp_path, clock, url=http_server.url("/gone.json"), fields={"text": "t"})
    with pytest.raises(FetchError) as exc:
        s.poll(None)
    assert exc.value.status == 404 and not exc.value.retryable


def test_csv_last_row_without_newline_is_taken_once_settled(tmp_path, clock):
    (tmp_path / "x.csv").write_text('id,text\n1,a\n2,"b\nc"', encoding="utf-8")
    s = src(tmp_path, clock, path="x.csv", fields={"id": "id", "text": "text"})
    first = poll(s, None)
    assert ids(first) == ["1"]
    second = poll(s, first.cursor)
    assert [i.text for i in second.items] == ["b\nc"]


def test_glob_csv_with_unreadable_header_is_reported_and_skipped(tmp_path, clock):
    (tmp_path / "a.csv").write_bytes("标题,正文\n1,x\n".encode("gb18030"))  # not utf-8
    (tmp_path / "b.csv").write_text("正文\n好\n", encoding="utf-8")
    s = src(tmp_path, clock, glob="*.csv", fields={"text": "正文"})
    first = poll(s, None)
    assert [i.text for i in first.items] == ["好"]
    assert (
        len(first.errors) == 1
        and "a.csv:1" in str(first.errors[0])
        and "not valid utf-8" in str(first.errors[0])
    )
    assert poll(s, first.cursor).errors == []


def test_json_file_over_max_bytes_is_refused(tmp_path, clock):
    (tmp_path / "big.json").write_text(json.dumps([{"text": "x" * 200}]))
    with pytest.raises(ParseError, match="larger than max_bytes=100"):
        poll(src(tmp_path, clock, path="big.json", fields={"text": "text"}, max_bytes=100), None)
