"""Exact and near-duplicate detection within a time window (content hash + 64-bit SimHash).

    deduper = Deduper(window_hours=24, max_distance=3, min_chars=12)
    deduper.seed(store_rows)                      # (content_hash, simhash, seen_at) after a restart
    text = dedupe_text(raw_text)                  # normalised, repost chain reduced
    deduper.check(content_hash(text), simhash(text), seen_at=now, length=len(text))
    # None (new: remembered) or DropReason.DUPLICATE / DropReason.NEAR_DUPLICATE

The text hashed is the reposter's own words plus the original post at the root of the repost
chain; the hops in between are left out, so "同感//@a: 对//@b: <post>" and "同感//@c: <post>"
are the same content, while "同感" under two different posts is not.

Near duplicates: SimHash over character 3-grams (text with Chinese characters) or English word
unigrams + bigrams. Two texts are near duplicates at Hamming distance <= ``max_distance``.
Lookup uses the band index: the 64 bits are cut into ``max_distance + 1`` blocks (4 blocks of 16
bits for the default 3); two hashes within the distance agree exactly on at least one block
(pigeonhole), so only items sharing a block are compared, not the whole window.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import re
import threading
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from monitor.defaults import DEDUPE_MAX_DISTANCE, DEDUPE_MIN_CHARS, DEDUPE_WINDOW_HOURS
from monitor.models import DropReason
from nlp.normalize import normalize, split_repost

MASK64 = (1 << 64) - 1
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_DROP_RE = re.compile(r"[\s\W_]+")  # whitespace and punctuation do not make a text different
_WORD_RE = re.compile(r"\w+")


def dedupe_text(text: str) -> str:
    """Normalised own words + root post of a repost chain (the form hashed for duplicates)."""
    own, chain = split_repost(text)
    parts = [own, chain[-1]] if chain else [own]
    return normalize(" ".join(p for p in parts if p))


def content_hash(dedupe_form: str) -> str:
    """sha1 hex of the dedupe text."""
    return hashlib.sha1(dedupe_form.encode("utf-8")).hexdigest()


def _features(text: str) -> Counter[str]:
    low = text.lower()
    if _CJK_RE.search(low):
        s = _DROP_RE.sub("", low)
        if len(s) < 3:
            return Counter([s]) if s else Counter()
        return Counter(s[i : i + 3] for i in range(len(s) - 2))
    words = _WORD_RE.findall(low)
    feats = Counter(words)
    feats.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return feats


def simhash(text: str) -> int:
    """Unsigned 64-bit SimHash of ``text`` (0 for a text with no features)."""
    feats = _features(text)
    if not feats:
        return 0
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(f.encode("utf-8"), digest_size=8).digest(), "little") for f in feats),
        dtype=np.uint64,
        count=len(feats),
    )
    weights = np.fromiter(feats.values(), dtype=np.int64, count=len(feats))
    bits = ((hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    votes = (weights[:, None] * (2 * bits - 1)).sum(axis=0)
    return int(np.packbits(votes > 0, bitorder="little").view("<u8")[0])


@dataclass
class _Entry:
    content_hash: str
    simhash: int
    seen_at: float  # POSIX seconds
    key: Hashable | None  # (source_id, external_id): the same item re-delivered is not a duplicate
    indexed: bool  # in the band index (long enough for near-duplicate checks)


class Deduper:
    """Remembers recent texts and says whether a new one repeats one of them.

    Thread-safe: one lock around every check, seed and eviction.
    """

    def __init__(
        self,
        window_hours: float = DEDUPE_WINDOW_HOURS,
        max_distance: int = DEDUPE_MAX_DISTANCE,
        min_chars: int = DEDUPE_MIN_CHARS,
    ) -> None:
        if window_hours <= 0:
            raise ValueError(f"window_hours must be > 0, got {window_hours!r}")
        if not 0 <= max_distance < 16:
            raise ValueError(f"max_distance must be in 0..15, got {max_distance!r}")
        self.window = timedelta(hours=window_hours)
        self.max_distance = max_distance
        self.min_chars = min_chars
        n = max_distance + 1
        edges = [round(i * 64 / n) for i in range(n + 1)]
        self._bands = [(lo, (1 << (hi - lo)) - 1) for lo, hi in itertools.pairwise(edges)]
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._entries: dict[int, _Entry] = {}
        self._by_hash: dict[str, int] = {}
        self._index: dict[tuple[int, int], set[int]] = {}
        self._expiry: list[tuple[float, int]] = []  # heap of (seen_at, entry id)
        self._latest = float("-inf")

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def check(
        self,
        content_hash: str,
        simhash: int,
        *,
        seen_at: datetime,
        length: int | None = None,
        key: Hashable | None = None,
    ) -> DropReason | None:
        """None when the text is new (it is then remembered), else why it is a duplicate.

        ``length`` is the dedupe text's length: shorter than ``min_chars`` means exact
        checks only. ``key`` identifies the item; the same key seen again (a poll retried after
        a failed store write) is never its own duplicate.
        """
        ts = seen_at.timestamp()
        simhash &= MASK64
        near = length is None or length >= self.min_chars
        with self._lock:
            self._evict(max(self._latest, ts))
            eid = self._by_hash.get(content_hash)
            if eid is not None:
                entry = self._entries[eid]
                if key is not None and entry.key == key:
                    return None
                return DropReason.DUPLICATE
            if near:
                for cid in self._candidates(simhash):
                    other = self._entries[cid]
                    if (other.simhash ^ simhash).bit_count() <= self.max_distance:
                        if key is not None and other.key == key:
                            return None
                        return DropReason.NEAR_DUPLICATE
            self._add(_Entry(content_hash, simhash, ts, key, near))
            return None

    def seed(self, records: Iterable[tuple]) -> int:
        """Warm up from stored mentions: ``(content_hash, simhash, seen_at[, key])`` tuples.

        Records older than the window (measured from the newest one) are dropped. Returns how
        many entries the deduper holds afterwards.
        """
        rows = sorted(records, key=lambda r: r[2])
        with self._lock:
            for row in rows:
                chash, sh, seen_at = row[0], row[1], row[2]
                key = row[3] if len(row) > 3 else None
                if chash in self._by_hash:
                    continue
                self._add(_Entry(chash, int(sh) & MASK64, seen_at.timestamp(), key, True))
            self._evict(self._latest)
            return len(self._entries)

    def evict(self, now: datetime) -> int:
        """Forget entries older than the window before ``now``; returns how many remain."""
        with self._lock:
            self._evict(max(self._latest, now.timestamp()))
            return len(self._entries)

    # --- internals (lock held) ---

    def _band_keys(self, simhash: int) -> list[tuple[int, int]]:
        return [(i, (simhash >> lo) & mask) for i, (lo, mask) in enumerate(self._bands)]

    def _candidates(self, simhash: int) -> set[int]:
        found: set[int] = set()
        for bk in self._band_keys(simhash):
            ids = self._index.get(bk)
            if ids:
                found |= ids
        return found

    def _add(self, entry: _Entry) -> None:
        eid = next(self._seq)
        self._entries[eid] = entry
        self._by_hash[entry.content_hash] = eid
        if entry.indexed:
            for bk in self._band_keys(entry.simhash):
                self._index.setdefault(bk, set()).add(eid)
        heapq.heappush(self._expiry, (entry.seen_at, eid))
        self._latest = max(self._latest, entry.seen_at)

    def _evict(self, now_ts: float) -> None:
        cutoff = now_ts - self.window.total_seconds()
        while self._expiry and self._expiry[0][0] < cutoff:
            _ts, eid = heapq.heappop(self._expiry)
            entry = self._entries.pop(eid)
            if self._by_hash.get(entry.content_hash) == eid:
                del self._by_hash[entry.content_hash]
            if entry.indexed:
                for bk in self._band_keys(entry.simhash):
                    ids = self._index.get(bk)
                    if ids is not None:
                        ids.discard(eid)
                        if not ids:
                            del self._index[bk]
