"""Chinese-aware substring search over stored mention text, without a second copy of the text.

    conds = text_conditions("乳业 召回", [mentions.c.title, mentions.c.text], "sqlite")
    # every term must occur in the title or the text; 乳业 also finds 乳業, ACME finds acme/ＡＣＭＥ

The store keeps the original text (Traditional stays Traditional). Rather than store a folded
copy (twice the text, an ingest-path change and a backfill of every existing row), each
character of the query becomes a class of every character that folds to the same one:

- script: Traditional and Simplified forms, from OpenCC's own dictionaries (TSCharacters,
  STCharacters, and TSPhrases aligned character by character, so 回复 also finds 回覆);
  characters are joined transitively (发 ~ 發 ~ 髮), which errs towards finding more;
- case and width: ``a`` ~ ``A`` ~ ``ａ`` ~ ``Ａ``, digits ~ full-width digits.

SQLite matches with GLOB (character classes, case-sensitive, so case lives in the classes),
PostgreSQL with a POSIX regular expression (``~``). User input never reaches either as
syntax: GLOB's ``* ? [`` and every ASCII punctuation mark in a regex are escaped.

Neither database can use an index for an unanchored substring (SQLite has none; pg_trgm
ignores CJK under the C locale and extracts no trigram from a 2-character word such as 乳业,
and needs CREATE EXTENSION): the search runs over the rows the other filters and the
newest-first index walk select, which is why the mention stream always has an order index.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

MAX_QUERY_CHARS = 200  # longer queries are refused, not truncated
MAX_TERMS = 10

_TERM_RE = re.compile(r'"([^"]*)"|(\S+)')


def _opencc_dictionary() -> Path:
    import opencc  # only its data files are read

    return Path(opencc.__file__).resolve().parent / "dictionary"


@lru_cache(maxsize=1)
def _script_classes() -> dict[str, str]:
    """char -> every character of its Traditional/Simplified equivalence class (itself included)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    folder = _opencc_dictionary()
    for name, phrases in (("TSCharacters.txt", False), ("STCharacters.txt", False), ("TSPhrases.txt", True)):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            for value in values.split(" ") if values else ():
                if not phrases:
                    if len(key) == 1 and len(value) == 1:
                        union(key, value)
                elif len(key) == len(value):  # align a phrase pair character by character
                    for a, b in zip(key, value, strict=True):
                        if a != b:
                            union(a, b)
                    break  # phrases: the first candidate is the conversion OpenCC makes
    members: dict[str, list[str]] = {}
    for ch in parent:
        members.setdefault(find(ch), []).append(ch)
    return {ch: "".join(sorted(members[find(ch)])) for ch in parent}


def char_class(ch: str) -> str:
    """Every character a query character ``ch`` matches (``ch`` first when it stands alone)."""
    out: dict[str, None] = {ch: None}
    if not ch.isalnum():
        return ch
    for c in _script_classes().get(ch, ch):
        out[c] = None
    for c in list(out):
        for v in (c.lower(), c.upper(), unicodedata.normalize("NFKC", c)):
            if len(v) == 1:
                out[v] = None
    for c in list(out):  # ASCII <-> full-width forms (U+FF01..U+FF5E)
        code = ord(c)
        if 0x21 <= code <= 0x7E:
            out[chr(code + 0xFEE0)] = None
        elif 0xFF01 <= code <= 0xFF5E:
            out[chr(code - 0xFEE0)] = None
    return "".join(c for c in out if c.isalnum())


def parse_terms(query: str) -> list[str]:
    """Whitespace-separated terms, or "quoted phrases"; every term must occur.

    Raises ValueError with a one-line reason for a query that is too long or has too many terms.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"text query is {len(query)} characters long; at most {MAX_QUERY_CHARS}")
    terms = [(m.group(1) if m.group(1) is not None else m.group(2)).strip() for m in _TERM_RE.finditer(query)]
    terms = list(dict.fromkeys(t for t in terms if t))
    if len(terms) > MAX_TERMS:
        raise ValueError(f"text query has {len(terms)} terms; at most {MAX_TERMS}")
    return terms


def glob_pattern(term: str) -> str:
    """A SQLite GLOB pattern finding ``term`` anywhere, folded as the module docstring says."""
    parts = []
    for ch in term:
        cls = char_class(ch)
        if len(cls) > 1:
            parts.append("[" + cls + "]")  # members are letters/digits/CJK: no ] ^ - inside
        elif ch in "*?[":
            parts.append("[" + ch + "]")
        else:
            parts.append(ch)
    return "*" + "".join(parts) + "*"


def regex_pattern(term: str) -> str:
    """A PostgreSQL (ARE) regular expression finding ``term`` anywhere."""
    parts = []
    for ch in term:
        cls = char_class(ch)
        if len(cls) > 1:
            parts.append("[" + cls + "]")
        elif ch.isascii() and not ch.isalnum():
            parts.append("\\" + ch)  # backslash + non-alphanumeric is that character, literally
        else:
            parts.append(ch)
    return "".join(parts)


def text_conditions(query: str, columns: list[sa.ColumnElement[str | None]], dialect: str) -> list[
        sa.ColumnElement[bool]]:
    """One condition per term: the term occurs in at least one of ``columns``."""
    conds: list[sa.ColumnElement[bool]] = []
    for term in parse_terms(query):
        if dialect == "sqlite":
            pattern = glob_pattern(term)
            ors: list[sa.ColumnElement[bool]] = [col.op("GLOB")(pattern) for col in columns]
        else:
            pattern = regex_pattern(term)
            ors = [col.regexp_match(pattern) for col in columns]
        conds.append(sa.or_(*ors))
    return conds
