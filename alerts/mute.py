"""Muting: whether a notification must not go out now, and why.

Three muters, each behind the one-method :class:`Muter` protocol, combined by
:class:`PlanMuter` in this order (the first that answers wins):

- **silence** (plan ``silences``): a one-off quiet period somebody decided on, for one brand
  and/or level or for everything. The notification is recorded as ``muted`` and never sent.
- **inhibition**: a notification speaking for level L of brand B is not sent while B has an
  open, real (non-drill) alert at a level more severe than L. There is one open alert per
  brand, so in practice this is the alert's *own* escalation superseding its older
  notifications: a warning notification still waiting in the outbox (retrying a dead channel,
  or held by a maintenance window) when the alert moves to crisis is muted, because the crisis
  notification to that level's contacts says it all. It also covers a second open alert of
  the same brand (two replicas racing, an alert whose level left the plan). "Resolved"
  notifications are never inhibited: whoever was told about an alert hears that it is over.
- **maintenance** (plan ``maintenance``): a recurring window (weekdays + local times + time
  zone). ``action: hold`` (the default) keeps the notification in the outbox until the window
  ends, then sends it if it still matters (the alert is still unacknowledged; for "resolved",
  the contact was actually told about the alert); otherwise it is recorded as ``muted``.
  ``action: suppress`` records it as ``muted`` straight away.

Nothing muted is lost silently: every muted notification stays in the outbox with status
``muted`` and its reason (``OutboxRow.mute_reason``), and every suppression is counted in
``brandpulse_notifications_suppressed_total{channel,reason}``. Drills are never muted: they
exist to exercise the real channels.

    muter = PlanMuter(plan)
    mute = muter.mutes(alert, Target("zhang-san", "wecom", "warning", NotifyReason.FIRST), now)
    if mute is not None:
        print(mute.kind, mute)      # "maintenance", "maintenance: sat, sun 02:00-04:00 Asia/Shanghai"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from alerts import outbox
from alerts.plan import WEEKDAYS, CrisisPlan, MaintenanceWindow, Silence
from alerts.records import list_alerts
from monitor.models import Alert, AlertState, NotifyReason

SILENCE, MAINTENANCE, INHIBITION = "silence", "maintenance", "inhibition"  # metric label values


@dataclass(frozen=True)
class Target:
    """Who a notification is for and what it speaks for."""

    contact: str
    channel: str
    level: str  # the plan level the notification is about
    reason: NotifyReason
    open_levels: frozenset[str] = frozenset()  # levels of the brand's open real alerts (this one included)


@dataclass(frozen=True)
class Mute:
    """Why a notification is not sent now. ``hold_until`` set: send it then instead."""

    kind: str  # silence, maintenance or inhibition
    detail: str
    hold_until: datetime | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class Muter(Protocol):
    def mutes(self, alert: Alert, target: Target, now: datetime) -> Mute | None:
        """A Mute when the notification must not go out at ``now``, else None."""
        ...


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class SilenceMuter:
    """Plan ``silences``: [starts, ends), for a brand (or all) and a level (or all)."""

    def __init__(self, silences: Sequence[Silence]) -> None:
        self.silences = tuple(silences)

    def mutes(self, alert: Alert, target: Target, now: datetime) -> Mute | None:
        for s in self.silences:
            if s.starts <= now < s.ends and s.brand in (None, alert.brand) and s.level in (None, target.level):
                return Mute(SILENCE, f"{s.comment} (by {s.created_by}, until {_utc(s.ends)})")
        return None


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def describe_window(w: MaintenanceWindow) -> str:
    days = ", ".join(d for d in WEEKDAYS if d in w.days)
    text = f"{days} {_clock(w.start)}-{_clock(w.end)} {w.timezone}"
    return f"{text} ({w.comment})" if w.comment else text


def window_end(w: MaintenanceWindow, now: datetime) -> datetime | None:
    """End (UTC) of the occurrence of ``w`` that contains ``now``, or None outside the window.

    ``days`` are the days a window *starts* on; a window whose ``to`` is at or before its
    ``from`` runs past midnight into the next day.
    """
    tz = ZoneInfo(w.timezone)
    local = now.astimezone(tz)
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        if WEEKDAYS[day.weekday()] not in w.days:
            continue
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        start = midnight + timedelta(minutes=w.start)
        end = midnight + timedelta(minutes=w.end if w.end > w.start else w.end + 1440)
        if start <= local < end:
            return end.astimezone(UTC)
    return None


class MaintenanceMuter:
    """Plan ``maintenance``: recurring windows that hold (default) or suppress notifications."""

    def __init__(self, windows: Sequence[MaintenanceWindow]) -> None:
        self.windows = tuple(windows)

    def mutes(self, alert: Alert, target: Target, now: datetime) -> Mute | None:
        for w in self.windows:
            if w.brands and alert.brand not in w.brands:
                continue
            if w.levels and target.level not in w.levels:
                continue
            end = window_end(w, now)
            if end is not None:
                hold = end if w.action == "hold" else None
                detail = describe_window(w) + (f", held until {_utc(end)}" if hold else "")
                return Mute(MAINTENANCE, detail, hold_until=hold)
        return None


class Inhibitor:
    """A more severe open alert of the same brand supersedes a less severe notification."""

    def __init__(self, plan: CrisisPlan) -> None:
        self.plan = plan

    def mutes(self, alert: Alert, target: Target, now: datetime) -> Mute | None:
        if target.reason is NotifyReason.RESOLVED:
            return None
        rank = self.plan.level_index(target.level)
        above = [lvl for lvl in target.open_levels if self.plan.level_index(lvl) > rank]
        if not above:
            return None
        worst = max(above, key=self.plan.level_index)
        return Mute(
            INHIBITION, f"brand {alert.brand!r} has an open alert at level {worst!r}, which supersedes {target.level!r}"
        )


class PlanMuter:
    """Every muter of a plan: silences, then inhibition, then maintenance windows. Drills pass."""

    def __init__(self, plan: CrisisPlan) -> None:
        self.muters: tuple[Muter, ...] = (
            SilenceMuter(plan.silences),
            Inhibitor(plan),
            MaintenanceMuter(plan.maintenance),
        )

    def mutes(self, alert: Alert, target: Target, now: datetime) -> Mute | None:
        if alert.drill:
            return None
        for muter in self.muters:
            mute = muter.mutes(alert, target, now)
            if mute is not None:
                return mute
        return None


def open_levels(conn: sa.Connection, brand: str) -> frozenset[str]:
    """Levels of the brand's open real (non-drill) alerts: what inhibition compares against."""
    return frozenset(a.level for a in list_alerts(conn, brand=brand, open_only=True, drill=False))


def recheck(muter: Muter, conn: sa.Connection, alert: Alert, row: outbox.OutboxRow, now: datetime) -> Mute | None:
    """Muting again at send time (the dispatcher), with the alert as it is now.

    A notification held by a maintenance window is sent only if it still matters: an alert
    acknowledged or resolved meanwhile needs no "first"/"escalated" message any more, and a
    "resolved" message goes only to people who actually got a message about the alert.
    """
    if alert.drill:
        return None
    held = row.payload.get("held")
    if isinstance(held, dict):
        until = str(held.get("until", "?"))
        if row.reason is not NotifyReason.RESOLVED and alert.state not in (
            AlertState.FIRING,
            AlertState.ESCALATED,
        ):
            return Mute(MAINTENANCE, f"held until {until}; the alert was {alert.state.value} meanwhile")
        if row.reason is NotifyReason.RESOLVED and not any(
            r.status == outbox.DONE
            and r.reason is not NotifyReason.RESOLVED
            and (r.contact, r.channel) == (row.contact, row.channel)
            for r in outbox.rows_for(conn, alert.id)
        ):
            return Mute(MAINTENANCE, f"held until {until}; {row.contact} was never told about this alert")
    level = str(row.payload.get("level") or alert.level)
    target = Target(row.contact, row.channel, level, row.reason, open_levels(conn, alert.brand))
    return muter.mutes(alert, target, now)
