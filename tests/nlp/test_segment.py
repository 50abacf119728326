from __future__ import annotations

from pathlib import Path

import jieba
import pytest

from monitor.errors import ConfigError
from nlp.segment import Segmenter, _jieba_ascii_runs


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


# --- the rjieba fast path (jieba stays the reference) ---

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment"


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'spacy'"):
        Segmenter(backend="spacy")


def test_auto_picks_rjieba_when_installed() -> None:
    pytest.importorskip("rjieba")
    assert Segmenter().backend == "rjieba"
    assert Segmenter(backend="jieba").backend == "jieba"


def test_ascii_runs_are_split_the_way_jieba_does() -> None:
    # jieba-rs emits one token per symbol; jieba keeps symbol runs and splits them with re_skip
    assert _jieba_ascii_runs(["订", "了", "21", "-", "23", "号", " ", "."]) == ["订", "了", "21", "-", "23", "号", "."]
    assert _jieba_ascii_runs(["好", ".", ".", ".", "2016", ".", "9", ".", "30"]) == ["好", "...", "2016.9", ".", "30"]


@pytest.fixture(scope="module")
def brand_pair() -> tuple[Segmenter, Segmenter]:
    pytest.importorskip("rjieba")
    words = ["阿克米咖啡", "阿克米", "小米", "ACME"]
    return Segmenter(backend="jieba", words=words), Segmenter(backend="rjieba", words=words)


@pytest.mark.parametrize(
    "text",
    [
        "阿克米咖啡的拿铁太淡了...价格21-23元，T_T",
        "早上喝了一碗小米粥，小米手机很好用",
        "I don't like ACME Coffee... 2016.9.30 was the worst day!!",
        "華為 P60 拍照 👍👍 赞赞赞",
    ],
)
def test_rjieba_gives_jieba_tokens_with_brand_words(text: str, brand_pair: tuple[Segmenter, Segmenter]) -> None:
    ref, fast = brand_pair
    assert fast.tokens(text) == ref.tokens(text)


def test_rjieba_honours_user_dictionary_files(tmp_path: Path) -> None:
    pytest.importorskip("rjieba")
    d = tmp_path / "user.txt"
    d.write_text("\ufeff蓝莓燕麦拿铁 100 n\n青禾乳业\n\n星河手机 2000\n", encoding="utf-8")
    text = "我在青禾乳业旁边点了一杯蓝莓燕麦拿铁，用星河手机付的"
    ref, fast = Segmenter(user_dicts=[d], backend="jieba"), Segmenter(user_dicts=[d], backend="rjieba")
    assert {"蓝莓燕麦拿铁", "青禾乳业", "星河手机"} <= set(fast.tokens(text))
    assert fast.tokens(text) == ref.tokens(text)
    with pytest.raises(ConfigError, match="nope.txt"):
        Segmenter(user_dicts=[tmp_path / "nope.txt"], backend="rjieba")


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "zh_weibo.dev.csv").exists(), reason=f"{DATA} absent")
def test_rjieba_agrees_with_jieba_on_the_dev_texts() -> None:
    pytest.importorskip("rjieba")
    from nlp.normalize import normalize
    from nlp.train import read_csv

    ref, fast = Segmenter(backend="jieba"), Segmenter(backend="rjieba")
    total = same = 0
    for name in ("zh_hotel", "zh_waimai", "zh_weibo", "en_airline"):
        texts, _ = read_csv(DATA / f"{name}.dev.csv")
        for t in texts:
            n = normalize(t)
            total += 1
            same += ref.tokens(n) == fast.tokens(n)
    assert total > 9000
    assert same / total >= 0.999, f"{total - same} of {total} dev texts tokenised differently"
