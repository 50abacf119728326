"""Replay a brand's stored history through the plan: what would it have paged, and to whom?

``brandpulse backtest --brand X --since 30d`` runs this so a brand manager can tune thresholds
before trusting them. It is the engine's decision rule without the store writes:

- the engine's detector (:func:`alerts.detect.detect`) decides at each bucket's end from the
  counts (and crisis-term mentions) up to that moment only: no look-ahead;
- one incident per brand until ``resolve_after`` without a signal (then ``resolved``); a worse
  level within it ``raised``;
- nobody acknowledges in a replay, so every ack deadline passes: the incident ``escalated`` to
  the next level at the deadline itself, and at the top level ``repeated`` every
  ``repeat_every`` (as :class:`alerts.engine.AlertEngine` does when nobody answers).

Silences, maintenance windows and inhibition are not applied: the timeline shows what the
plan's conditions and escalation decide, and who each step would tell.

    events = replay_history(conn, "acme", since, until, plan)
    for line in format_timeline(events, plan):
        print(line)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from alerts.baseline import bucket_floor, history_needed
from alerts.detect import DetectMemo, Signal, detect
from alerts.evidence import summary
from alerts.plan import CrisisPlan, Level, format_duration
from monitor.store import mentions as store_mentions

log = logging.getLogger(__name__)

OPENED, RAISED, ESCALATED, REPEATED, RESOLVED = "opened", "raised", "escalated", "repeated", "resolved"


@dataclass(frozen=True)
class TimelineEvent:
    """One step the plan would have taken."""

    at: datetime
    incident: int  # 1, 2, ... in the replayed range
    action: str  # opened, raised, escalated, repeated, resolved
    level: str
    detail: str  # the signal's summary, or why it escalated / resolved
    notify: tuple[str, ...] = ()  # contact ids told (the level's `notify`; for resolved: everyone told)
    signal: Signal | None = None  # the signal behind opened / raised


@dataclass
class _Incident:
    number: int
    opened_at: datetime
    level: str
    deadline: datetime
    last_signal: datetime
    told: list[str] = field(default_factory=list)
    reminders: int = 0


class _Replay:
    """The engine's lifecycle rules over replayed signals; nobody ever acknowledges."""

    def __init__(self, plan: CrisisPlan) -> None:
        self.plan = plan
        self.events: list[TimelineEvent] = []
        self.open: _Incident | None = None
        self.count = 0

    def _emit(self, at: datetime, action: str, level: Level, detail: str, signal: Signal | None = None) -> None:
        assert self.open is not None
        notify = tuple(level.notify)
        for c in notify:
            if c not in self.open.told:
                self.open.told.append(c)
        self.events.append(TimelineEvent(at, self.open.number, action, level.id, detail, notify, signal))

    def deadlines(self, until: datetime, *, inclusive: bool = True) -> None:
        """Escalate (or remind at the top level) at every ack deadline up to ``until``."""
        inc = self.open
        while inc is not None and (inc.deadline < until or (inclusive and inc.deadline == until)):
            current = self.plan.level(inc.level)
            nxt = self.plan.next_level(inc.level)
            at = inc.deadline
            if nxt is not None:
                inc.level, inc.deadline = nxt.id, at + timedelta(seconds=nxt.ack_within)
                why = f"not acknowledged within {format_duration(current.ack_within)}"
                self._emit(at, ESCALATED, nxt, why)
            else:
                inc.reminders += 1
                inc.deadline = at + timedelta(seconds=self.plan.repeat_every)
                self._emit(at, REPEATED, current, f"still not acknowledged at the top level (reminder {inc.reminders})")

    def decide(self, now: datetime, signal: Signal | None) -> None:
        """One evaluation at ``now`` (a bucket's end), in the engine's order: the deadlines
        before it, then the signal (open / raise / resolve), then a deadline falling on ``now``
        (so an incident that resolves now is not also escalated now)."""
        self.deadlines(now, inclusive=False)
        inc = self.open
        if signal is not None:
            level = self.plan.level(signal.level)
            if inc is None:
                self.count += 1
                deadline = now + timedelta(seconds=level.ack_within)
                self.open = _Incident(self.count, now, level.id, deadline, now)
                self._emit(now, OPENED, level, f"{signal.kind}: {summary(signal)}", signal)
            else:
                if self.plan.level_index(level.id) > self.plan.level_index(inc.level):
                    inc.level, inc.deadline = level.id, now + timedelta(seconds=level.ack_within)
                    self._emit(now, RAISED, level, f"worse signal: {signal.kind}: {summary(signal)}", signal)
                inc.last_signal = now
        elif inc is not None and (now - inc.last_signal).total_seconds() >= self.plan.resolve_after:
            quiet = format_duration(self.plan.resolve_after)
            self.events.append(
                TimelineEvent(now, inc.number, RESOLVED, inc.level, f"no signal for {quiet}", tuple(inc.told))
            )
            self.open = None
        self.deadlines(now)


def replay_history(
    conn: sa.Connection, brand: str, since: datetime, until: datetime, plan: CrisisPlan
) -> list[TimelineEvent]:
    """What ``plan`` would have done for ``brand`` between ``since`` and ``until``, from the
    stored mentions (see the module docstring). Events are in time order; an incident still
    open at ``until`` has no ``resolved`` event."""
    bucket = plan.bucket
    window = max(plan.window_seconds(lvl) for lvl in plan.levels)
    start = bucket_floor(since.timestamp(), bucket)
    first = bucket_floor(start - history_needed(bucket, plan.baseline_days, window), bucket)
    first_dt, end = datetime.fromtimestamp(first, UTC), bucket_floor(until.timestamp(), bucket)
    stored = store_mentions.bucket_counts(conn, brand, first_dt, until, bucket)
    uses_crisis = any(lvl.when is not None and lvl.when.crisis_keyword is not None for lvl in plan.levels)
    stored_crisis = store_mentions.crisis_counts(conn, brand, first_dt, until, bucket) if uses_crisis else {}
    counts: dict[int, dict[str, int]] = {}
    crisis: dict[int, tuple[int, int]] = {}
    memo = DetectMemo()
    replay = _Replay(plan)
    for b in range(first, end, bucket):
        if b in stored:
            counts[b] = stored[b]
        if b in stored_crisis:
            crisis[b] = stored_crisis[b]
            # Only the largest window's worth is ever read: keep the dict small.
            for old in [k for k in crisis if k < b - window - bucket]:
                del crisis[old]
        now = b + bucket  # the bucket just ended; nothing after it is known yet
        if now <= start:
            continue
        at = datetime.fromtimestamp(now, UTC)
        signals = detect(brand, counts, at, plan, memo=memo, crisis=crisis if uses_crisis else None)
        replay.decide(at, signals[0] if signals else None)
    replay.deadlines(until)
    events = replay.events
    log.info("history backtest done brand=%s since=%s until=%s incidents=%s events=%s", brand,
             since.isoformat(), until.isoformat(), replay.count, len(events))
    return events


def format_timeline(events: list[TimelineEvent], plan: CrisisPlan) -> list[str]:
    """One tab-separated line per event: time, incident number, level, action, detail, who is told."""
    names = {c.id: c.name for c in plan.contacts}
    lines = []
    for e in events:
        told = ", ".join(names.get(c, c) for c in e.notify)
        lines.append(f"{e.at:%Y-%m-%d %H:%M}Z\t#{e.incident}\t{e.level}\t{e.action}\t{e.detail}\t-> {told or '-'}")
    return lines
