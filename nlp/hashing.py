"""Hashed n-gram counts, computed for a whole batch with numpy: the sentiment features.

    hasher = NgramHasher(n_features=2**18)
    X = hasher.char_counts(["阿克米太难喝了", "ok"], ngram=(1, 3))          # csr_matrix, float32
    W = hasher.word_counts([["阿克米", "太难", "喝", "了"], ["ok"]], ngram=(1, 2))

The output is exactly what sklearn's ``HashingVectorizer(alternate_sign=False, norm=None,
dtype=float32)`` gives for ``analyzer="char"`` and for ``analyzer="word"`` with
``token_pattern=r"\\S+"`` (same n-grams, same MurmurHash3 x86 32-bit hash of their UTF-8 bytes
with seed 0, same ``abs(h) % n_features`` column, same canonical CSR): the shipped model's
weights were trained on those columns, and ``tests/nlp/test_hashing.py`` compares the two.

Why not sklearn itself: it builds a Python string and a ``(feature, 1)`` tuple for every n-gram
and hashes them one by one (~150 per post, ~50 us). Here every n-gram is a span of one UTF-8
buffer holding the whole batch (a word bigram is the two tokens and the space between them),
and MurmurHash3 runs over all spans at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

_WHITE_SPACES = re.compile(r"\s\s+")  # sklearn's _VectorizerMixin._white_spaces (char analyzer)
_TOKEN_RE = re.compile(r"\S+")  # the word token_pattern of FeatureParams

_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)
_M5 = np.uint32(5)
_N1 = np.uint32(0xE6546B64)
_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)
_INT32_MIN = -(2**31)
CHUNK = 512  # documents hashed per numpy pass

T = TypeVar("T")


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _scramble(k: np.ndarray) -> np.ndarray:
    k = k * _C1
    return _rotl(k, 15) * _C2


def murmur3_32(buf: bytes, starts: np.ndarray, lengths: np.ndarray, seed: int = 0) -> np.ndarray:
    """Signed MurmurHash3 x86 32-bit of ``buf[s:s+n]`` for every (s, n), as int32.

    The same function as sklearn.utils.murmurhash3_32(bytes, seed) (Austin Appleby's
    MurmurHash3_x86_32), evaluated for all spans together: block j of every span that has one,
    then the tail bytes, then the finaliser.
    """
    # words[p] = the little-endian uint32 at byte p, so each block read is one gather; the zero
    # padding gives every offset up to len(buf) + 3 a word (tail reads may pass a span's end).
    data = np.frombuffer(buf + b"\0\0\0\0\0\0\0", dtype=np.uint8).astype(np.uint32)
    words = data[:-3] | (data[1:-2] << np.uint32(8)) | (data[2:-1] << np.uint32(16)) | (data[3:] << np.uint32(24))
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    h = np.full(starts.shape, seed, dtype=np.uint32)
    nblocks = lengths >> 2
    for j in range(int(nblocks.max(initial=0))):
        idx = np.flatnonzero(nblocks > j)
        hj = h[idx] ^ _scramble(words[starts[idx] + 4 * j])
        h[idx] = _rotl(hj, 13) * _M5 + _N1
    tail = lengths & 3
    idx = np.flatnonzero(tail)
    if idx.size:
        pos = starts[idx] + 4 * nblocks[idx]
        # keep the tail's 1..3 bytes of the word read there
        k = words[pos] & ((np.uint32(1) << (8 * tail[idx]).astype(np.uint32)) - np.uint32(1))
        h[idx] ^= _scramble(k)
    h ^= lengths.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= _F1
    h ^= h >> np.uint32(13)
    h *= _F2
    h ^= h >> np.uint32(16)
    return h.view(np.int32)


def hash_columns(hashes: np.ndarray, n_features: int) -> np.ndarray:
    """Column of each signed hash, as sklearn's FeatureHasher computes it (int32)."""
    h = hashes.astype(np.int64)
    cols = np.abs(h) % n_features
    # abs(-2**31) overflows in C; sklearn defines that column as (2**31 - 1 - (n - 1)) % n.
    cols[h == _INT32_MIN] = (2**31 - 1 - (n_features - 1)) % n_features
    return cols.astype(np.int32)


class _Stream:
    """Strings laid end to end in one UTF-8 buffer, with the byte offset of every character."""

    def __init__(self, pieces: Sequence[str]) -> None:
        text = "".join(pieces)
        # Raises UnicodeEncodeError on lone surrogates, like sklearn's str.encode("utf-8") does.
        self.buf = text.encode("utf-8")
        cps = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        widths = 1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)
        self.byte_at = np.zeros(len(cps) + 1, dtype=np.int64)  # byte offset of character i
        np.cumsum(widths, out=self.byte_at[1:])


def _counts(
    stream: _Stream,
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    n_rows: int,
    n_features: int,
) -> sp.csr_matrix:
    """CSR of hashed counts: one feature per character span [start, end) of ``stream``."""
    bstart = stream.byte_at[starts]
    hashes = murmur3_32(stream.buf, bstart, stream.byte_at[ends] - bstart)
    X = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, hash_columns(hashes, n_features))),
        shape=(n_rows, n_features),
        dtype=np.float32,
    )
    X.sum_duplicates()  # also sorts the indices: the canonical form sklearn returns
    return X


def _stacked(docs: Sequence[T], count: Callable[[Sequence[T]], sp.csr_matrix], n_features: int) -> sp.csr_matrix:
    """``count`` over chunks of CHUNK documents, stacked: the per-chunk arrays stay small
    (cache-friendly for scoring batches, bounded memory when training on a whole corpus)."""
    if len(docs) <= CHUNK:
        return count(docs)
    parts = [count(docs[i : i + CHUNK]) for i in range(0, len(docs), CHUNK)]
    X = sp.vstack(parts, format="csr", dtype=np.float32)
    X.sum_duplicates()  # a no-op on stacked canonical rows; keeps the canonical flag set
    return X


class NgramHasher:
    """Hashed character and word n-gram counts for a batch (see the module docstring)."""

    def __init__(self, n_features: int, lowercase: bool = True) -> None:
        self.n_features = n_features
        self.lowercase = lowercase

    def char_counts(self, texts: Sequence[str], ngram: tuple[int, int]) -> sp.csr_matrix:
        """Counts of the character n-grams of each text (whitespace runs read as one space)."""
        return _stacked(texts, lambda chunk: self._char_chunk(chunk, ngram), self.n_features)

    def word_counts(self, token_lists: Sequence[Sequence[str]], ngram: tuple[int, int]) -> sp.csr_matrix:
        """Counts of the word n-grams of each token list (tokens joined by spaces, as sklearn's
        word analyzer reads ``" ".join(tokens)`` with token_pattern ``\\S+``)."""
        return _stacked(token_lists, lambda chunk: self._word_chunk(chunk, ngram), self.n_features)

    def _char_chunk(self, texts: Sequence[str], ngram: tuple[int, int]) -> sp.csr_matrix:
        docs = [_WHITE_SPACES.sub(" ", t.lower() if self.lowercase else t) for t in texts]
        lens = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        stream = _Stream(docs)
        doc_end = np.repeat(np.cumsum(lens), lens)  # per character: where its document ends
        row_of = np.repeat(np.arange(len(docs)), lens)
        pos = np.arange(len(doc_end), dtype=np.int64)
        rows, starts, ends = [], [], []
        for n in range(ngram[0], ngram[1] + 1):
            ok = pos + n <= doc_end
            rows.append(row_of[ok])
            starts.append(pos[ok])
            ends.append(pos[ok] + n)
        return _counts(
            stream,
            np.concatenate(rows),
            np.concatenate(starts),
            np.concatenate(ends),
            len(docs),
            self.n_features,
        )

    def _word_chunk(self, token_lists: Sequence[Sequence[str]], ngram: tuple[int, int]) -> sp.csr_matrix:
        words: list[str] = []
        pieces: list[str] = []
        per_doc: list[int] = []
        for toks in token_lists:
            # Empty and whitespace-only tokens only add whitespace here, which \S+ skips: the same
            # words as sklearn reading " ".join() of the non-blank tokens.
            doc = " ".join(toks)
            found = _TOKEN_RE.findall(doc.lower() if self.lowercase else doc)
            if found:
                words.extend(found)
                pieces.append(" ".join(found) + " ")
            per_doc.append(len(found))
        # All words end to end with one space after each: word i covers [start[i], start[i] + len[i]),
        # and words i..i+n-1 of one document cover exactly their " ".join().
        wlens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        wstart = np.zeros(len(words), dtype=np.int64)
        np.cumsum(wlens[:-1] + 1, out=wstart[1:])
        stream = _Stream(pieces)
        counts = np.asarray(per_doc, dtype=np.int64)
        doc_end = np.repeat(np.cumsum(counts), counts)  # per word: index after its document's last
        row_of = np.repeat(np.arange(len(per_doc)), counts)
        pos = np.arange(len(words), dtype=np.int64)
        rows, starts, ends = [], [], []
        for n in range(ngram[0], ngram[1] + 1):
            ok = pos + n <= doc_end
            last = pos[ok] + n - 1
            rows.append(row_of[ok])
            starts.append(wstart[pos[ok]])
            ends.append(wstart[last] + wlens[last])
        return _counts(
            stream,
            np.concatenate(rows),
            np.concatenate(starts),
            np.concatenate(ends),
            len(per_doc),
            self.n_features,
        )
