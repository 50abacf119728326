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
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp

from monitor.defaults import DEDUPE_MAX_DISTANCE, DEDUPE_MIN_CHARS, DEDUPE_WINDOW_HOURS
from monitor.models import DropReason
from nlp.normalize import TextForms

MASK64 = (1 << 64) - 1
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_DROP_RE = re.compile(r"[\s\W_]+")  # whitespace and punctuation do not make a text different
_WORD_RE = re.compile(r"\w+")


def dedupe_text(text: str) -> str:
    """Normalised own words + root post of a repost chain (the form hashed for duplicates)."""
    return dedupe_text_of(TextForms.of(text))


def dedupe_text_of(forms: TextForms) -> str:
    """:func:`dedupe_text` of the text ``forms`` was made from (no second clean/normalise pass
    for the common text without a repost chain: it is then the normalised text itself)."""
    parts = [forms.own, forms.chain[-1]] if forms.chain else [forms.own]
    return forms.normalized_join(parts)


def content_hash(dedupe_form: str) -> str:
    """sha1 hex of the dedupe text."""
    return hashlib.sha1(dedupe_form.encode("utf-8")).hexdigest()


def _features(text: str) -> list[str]:
    """SimHash features of ``text``, repeated as often as they occur (the count is the weight)."""
    low = text.lower()
    if _CJK_RE.search(low):
        s = _DROP_RE.sub("", low)
        if len(s) < 3:
            return [s] if s else []
        return [s[i : i + 3] for i in range(len(s) - 2)]
    words = _WORD_RE.findall(low)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class _FeatureHashes(dict[str, int]):
    """feature -> its 64-bit blake2b value, remembered (SimHash features repeat across posts:
    common 3-grams, words). Cleared when full, so memory stays bounded (~15 MB)."""

    limit = 100_000

    def __missing__(self, feature: str) -> int:
        value = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
        if len(self) >= self.limit:
            self.clear()
        self[feature] = value
        return value


_FEATURE_HASHES = _FeatureHashes()


def simhash(text: str) -> int:
    """Unsigned 64-bit SimHash of ``text`` (0 for a text with no features).

    Each feature's hash is blake2b (8 bytes, little-endian), stable across processes and
    versions: the values are stored with the mentions and compared after restarts.
    """
    return simhashes([text])[0]


def simhashes(texts: Sequence[str]) -> list[int]:
    """:func:`simhash` of each text, computed for the whole batch in a few numpy operations."""
    feats = [_features(t) for t in texts]
    sizes = np.fromiter(map(len, feats), dtype=np.int64, count=len(feats))
    total = int(sizes.sum())
    if total == 0:
        return [0] * len(texts)
    hashes = np.fromiter(
        map(_FEATURE_HASHES.__getitem__, itertools.chain.from_iterable(feats)), dtype="<u8", count=total
    )
    # bits[i, j] = bit j of occurrence i's hash (byte order fixed by "<u8", bit order by "little")
    bits = np.unpackbits(hashes.view(np.uint8).reshape(total, 8), axis=1, bitorder="little")
    # ones[t, j] = occurrences in text t with bit j set (a feature counts once per occurrence).
    # float64 sums of small integers are exact; the sparse product is one C loop for the batch.
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    occurrences = sp.csr_matrix((np.ones(total), np.arange(total), indptr), shape=(len(texts), total), dtype=np.float64)
    ones = occurrences @ bits
    # Vote per bit: +1 per occurrence with the bit set, -1 per occurrence without it.
    votes = 2 * ones - sizes[:, None]
    packed = np.packbits(votes > 0, axis=1, bitorder="little").view("<u8").ravel()
    return [int(v) for v in packed.tolist()]  # a text without features votes 0 everywhere: 0


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
            bands = self._band_keys(simhash) if near else []
            if near:
                for cid in self._candidates(simhash, bands):
                    other = self._entries[cid]
                    if (other.simhash ^ simhash).bit_count() <= self.max_distance:
                        if key is not None and other.key == key:
                            return None
                        return DropReason.NEAR_DUPLICATE
            self._add(_Entry(content_hash, simhash, ts, key, near), bands)
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

    def _candidates(self, simhash: int, bands: list[tuple[int, int]] | None = None) -> set[int]:
        found: set[int] = set()
        for bk in bands or self._band_keys(simhash):
            ids = self._index.get(bk)
            if ids:
                found |= ids
        return found

    def _add(self, entry: _Entry, bands: list[tuple[int, int]] | None = None) -> None:
        eid = next(self._seq)
        self._entries[eid] = entry
        self._by_hash[entry.content_hash] = eid
        if entry.indexed:
            for bk in bands or self._band_keys(entry.simhash):
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
