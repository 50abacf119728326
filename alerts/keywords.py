"""The crisis-keyword condition of a plan level, and how it is judged from stored counts.

    rule = CrisisKeyword(min_followers=100_000, min_mentions=5)      # plan: when.crisis_keyword
    crisis = store_mentions.crisis_counts(conn, "acme", since, now, 900)
    n, reach = crisis_in_window(crisis, window_start, current_bucket)
    crisis_holds(rule, n, reach)     # one mention by a 100k+ account, or 5+ mentions

Crisis terms are found at ingest (nlp.keywords.CrisisTerms, from the word list in
``nlp.crisis_keywords``) and stored per mention; alerts only read the store. In a level the
condition is ORed with the spike conditions (alerts.detect): a crisis term from a high-reach
author matters even when the volume has not moved yet.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

# bucket start -> (mentions with crisis terms, largest author_followers among them)
CrisisCounts = Mapping[int, tuple[int, int]]


class CrisisKeyword(BaseModel):
    """The crisis-keyword condition: in the level's window, a stored mention of the brand with
    a term from the crisis word list by an author with at least ``min_followers`` followers,
    OR at least ``min_mentions`` such mentions (any author)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_followers: int | None = Field(default=None, ge=1)
    min_mentions: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _needs_one(self) -> CrisisKeyword:
        if self.min_followers is None and self.min_mentions is None:
            raise ValueError("set min_followers and/or min_mentions")
        return self


def crisis_in_window(crisis: CrisisCounts | None, start: int, end: int) -> tuple[int, int]:
    """(mentions, largest reach) over the buckets starting in [start, end] (end = the bucket in
    progress: later buckets are never read, so replays have no look-ahead)."""
    n = reach = 0
    for b, (count, followers) in (crisis or {}).items():
        if start <= b <= end:
            n += count
            reach = max(reach, followers)
    return n, reach


def crisis_holds(rule: CrisisKeyword, mentions: int, reach: int) -> bool:
    """The condition holds for ``mentions`` crisis mentions whose widest author has ``reach``."""
    if mentions <= 0:
        return False
    if rule.min_followers is not None and reach >= rule.min_followers:
        return True
    return rule.min_mentions is not None and mentions >= rule.min_mentions
