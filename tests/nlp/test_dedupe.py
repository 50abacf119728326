from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import DropReason
from nlp.dedupe import Deduper, content_hash, dedupe_text, dedupe_text_of, simhash, simhashes
from nlp.normalize import TextForms, normalize, split_repost

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

ORIGINAL = "阿克米咖啡的外卖送到的时候已经凉了，客服电话也一直打不通，太失望了"
# distinct complaints about the same incident, as many people write them in a crisis
DISTINCT = [
    "阿克米咖啡外卖送来是凉的，打客服电话一直没人接，非常失望",
    "阿克米咖啡的外卖送到的时候已经凉了，客服电话也一直打不通，再也不点了",
    "今天点的阿克米咖啡又是凉的，客服根本打不通，这是第三次了",
    "阿克米咖啡的拿铁送到已经凉透了，退款申请提交两天都没人处理",
]


def check(d: Deduper, text: str, at: datetime, key: object = None) -> DropReason | None:
    canon = dedupe_text(text)
    return d.check(content_hash(canon), simhash(canon), seen_at=at, length=len(canon), key=key)


def test_simhash_is_unsigned_64_bit_and_stable() -> None:
    h = simhash(ORIGINAL)
    assert 0 <= h < 2**64
    assert h == simhash(ORIGINAL)
    assert simhash("") == 0


def test_exact_duplicate() -> None:
    d = Deduper(24, 3, 12)
    assert check(d, ORIGINAL, T0) is None
    assert check(d, ORIGINAL, T0 + timedelta(minutes=5)) is DropReason.DUPLICATE


def test_repost_chain_hops_do_not_make_content_new() -> None:
    d = Deduper(24, 3, 12)
    assert check(d, f"同感//@小王: 对//@老李: {ORIGINAL}", T0) is None
    assert check(d, f"同感//@阿花: {ORIGINAL}", T0) is DropReason.DUPLICATE
    # the same two words under a different post are different content
    assert check(d, "同感//@小王: 阿克米咖啡的新品很好喝", T0) is None


def test_near_duplicate_with_punctuation_and_spacing_changes() -> None:
    d = Deduper(24, 3, 12)
    assert check(d, ORIGINAL, T0) is None
    assert check(d, ORIGINAL.replace("，", " ") + "！！！", T0) is DropReason.NEAR_DUPLICATE


def test_realistic_distinct_complaints_are_kept() -> None:
    d = Deduper(24, 3, 12)
    assert check(d, ORIGINAL, T0) is None
    for text in DISTINCT:
        assert check(d, text, T0) is None, text
        dist = (simhash(dedupe_text(text)) ^ simhash(dedupe_text(ORIGINAL))).bit_count()
        assert dist > 3


def test_short_texts_only_checked_exactly() -> None:
    d = Deduper(24, 3, 12)
    assert check(d, "阿克米好喝", T0) is None
    assert check(d, "阿克米好喝", T0) is DropReason.DUPLICATE
    assert check(d, "阿克米好喝!", T0) is None  # short: no near check even though simhash may agree


def test_same_item_redelivered_is_not_its_own_duplicate() -> None:
    d = Deduper(24, 3, 12)
    assert check(d, ORIGINAL, T0, key=("weibo", "1")) is None
    assert check(d, ORIGINAL, T0, key=("weibo", "1")) is None  # poll retried after a failed store write
    assert check(d, ORIGINAL, T0, key=("weibo", "2")) is DropReason.DUPLICATE


def test_window_eviction() -> None:
    d = Deduper(1, 3, 12)
    assert check(d, ORIGINAL, T0) is None
    assert check(d, DISTINCT[0], T0 + timedelta(minutes=30)) is None
    assert len(d) == 2
    assert check(d, ORIGINAL, T0 + timedelta(minutes=61)) is None  # first one expired, so new again
    assert d.evict(T0 + timedelta(hours=5)) == 0


def test_seed_from_store_rows() -> None:
    canon = dedupe_text(ORIGINAL)
    old = dedupe_text(DISTINCT[2])
    rows = [
        (content_hash(canon), simhash(canon) - 2**64, T0),  # a signed BIGINT as PostgreSQL stores it
        (content_hash(old), simhash(old), T0 - timedelta(hours=30)),  # outside the window: dropped
    ]
    d = Deduper(24, 3, 12)
    assert d.seed(rows) == 1
    assert check(d, ORIGINAL, T0 + timedelta(hours=1)) is DropReason.DUPLICATE
    assert check(d, ORIGINAL + "!", T0 + timedelta(hours=1)) is DropReason.NEAR_DUPLICATE
    assert check(d, DISTINCT[2], T0 + timedelta(hours=1)) is None


def test_band_index_keeps_candidates_few() -> None:
    d = Deduper(24, 3, 12)
    for i in range(3000):
        check(d, f"第{i}条：阿克米咖啡门店{i * 7919 % 1000}号的服务评价编号{i}", T0)
    probe = simhash(dedupe_text(ORIGINAL))
    assert len(d._candidates(probe)) < 50  # not a scan of 3000 entries


def test_thread_safe_under_concurrent_checks() -> None:
    d = Deduper(24, 3, 12)
    results: list[DropReason | None] = []
    lock = threading.Lock()

    def worker() -> None:
        r = check(d, ORIGINAL, T0)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 1 and results.count(DropReason.DUPLICATE) == 7


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Deduper(0, 3, 12)
    with pytest.raises(ValueError):
        Deduper(24, 64, 12)


# --- SimHash values are stored: the batch implementation must keep them bit for bit ---


def reference_simhash(text: str) -> int:
    """The original per-text algorithm: weighted bit votes of blake2b feature hashes."""
    low = text.lower()
    if re.search(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", low):
        s = re.sub(r"[\s\W_]+", "", low)
        feats = Counter([s]) if 0 < len(s) < 3 else Counter(s[i : i + 3] for i in range(len(s) - 2))
    else:
        words = re.findall(r"\w+", low)
        feats = Counter(words)
        feats.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    votes = [0] * 64
    for feature, weight in feats.items():
        h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
        for bit in range(64):
            votes[bit] += weight if (h >> bit) & 1 else -weight
    return sum(1 << bit for bit in range(64) if votes[bit] > 0)


SIMHASH_TEXTS = [
    ORIGINAL,
    *DISTINCT,
    "Loving the new ACME Coffee cold brew, best in town! ACME coffee, ACME coffee.",
    "好好好好好好好好好",  # repeated features: weight > 1
    "ab",
    "",
    "!!! ...",
    "同感//@小王: 阿克米咖啡太难喝",
]


def test_simhash_values_are_pinned() -> None:
    assert simhash(ORIGINAL) == 16214741792392047659
    assert simhash("Loving the new ACME Coffee cold brew, best in town!") == 4075803266653597809
    assert simhash("ab") == 9804581064242713102


def test_batch_simhash_equals_the_reference_algorithm() -> None:
    texts = SIMHASH_TEXTS + [dedupe_text(t) for t in SIMHASH_TEXTS]
    expected = [reference_simhash(t) for t in texts]
    assert simhashes(texts) == expected
    assert [simhash(t) for t in texts] == expected
    assert simhashes([]) == [] and simhashes(["", ""]) == [0, 0]


def test_dedupe_text_of_forms_equals_dedupe_text() -> None:
    for text in SIMHASH_TEXTS + ["&lt;b&gt;阿克米", "e\u200b\u0301 阿克米", "同感//@a: 对//@b: 華為太贵了"]:
        own, chain = split_repost(text)
        parts = [own, chain[-1]] if chain else [own]
        expected = normalize(" ".join(p for p in parts if p))
        assert dedupe_text(text) == expected
        assert dedupe_text_of(TextForms.of(text)) == expected
