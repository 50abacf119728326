from __future__ import annotations

import jieba
import pytest

from monitor.errors import ConfigError
from nlp.segment import Segmenter


def test_tokens_drop_whitespace(segmenter: Segmenter) -> None:
    toks = segmenter.tokens("今天 天气 很好")
    assert "".join(toks) == "今天天气很好"
    assert all(not t.isspace() for t in toks)
    assert segmenter.tokens("") == []


def test_brand_words_stay_whole_without_touching_global_jieba() -> None:
    seg = Segmenter(words=["阿克米咖啡", "阿克米"])
    assert seg.tokens("阿克米咖啡的拿铁太淡了")[0] == "阿克米咖啡"
    assert "阿克米" in seg.tokens("昨天在阿克米买了一杯")
    # the process-wide jieba dictionary is not changed by our instance
    assert "阿克米咖啡" not in list(jieba.cut("阿克米咖啡的拿铁太淡了"))


def test_dictionary_words_containing_an_alias_keep_winning() -> None:
    seg = Segmenter(words=["小米"])
    assert "小米粥" in seg.tokens("早上喝了一碗小米粥")
    assert seg.tokens("小米手机很好用")[0] == "小米"


def test_user_dictionary_file(tmp_path) -> None:
    d = tmp_path / "user.txt"
    d.write_text("蓝莓燕麦拿铁 100 n\n", encoding="utf-8")
    seg = Segmenter(user_dicts=[d])
    assert "蓝莓燕麦拿铁" in seg.tokens("我点了一杯蓝莓燕麦拿铁")


def test_missing_user_dictionary_is_a_config_error(tmp_path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ConfigError, match="nope.txt"):
        Segmenter(user_dicts=[missing])
