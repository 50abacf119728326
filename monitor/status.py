"""``brandpulse status``: sources, open alerts and the outbox at a glance, read from the store.

Reads only (it never migrates or writes), so it is safe against a production database while
the daemons run, and it shows the same numbers whichever replica wrote them.

    snap = snapshot(engine, now, sources={"weibo": 60.0})   # source id -> configured interval
    print(render(snap))                                      # or json.dumps(snap)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts import records
from monitor import defaults
from monitor.errors import StoreError
from monitor.store import schema
from monitor.store.engine import describe, reason
from monitor.store.migrate import current_revision, head_revision

OUTBOX_STATUSES = ("pending", "sending", "failed", "done", "muted")
ERROR_CHARS = 80  # last error shown in the table; --json has it whole


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _age(now: datetime, t: datetime | None) -> float | None:
    return round((now - t).total_seconds(), 3) if t is not None else None


def snapshot(engine: sa.Engine, now: datetime, *, sources: dict[str, float] | None = None) -> dict[str, Any]:
    """What an on-call engineer needs first, as plain JSON-able data.

    ``sources`` maps the configured source ids to their poll interval (seconds); without it,
    the sources the store knows are listed and none is judged late.
    """
    revision = current_revision(engine)
    if revision is None:
        raise StoreError(f"database {describe(engine)!r} has no BrandPulse schema yet: start the daemon or run "
                         f"`brandpulse db upgrade`")
    try:
        with engine.connect() as conn:
            return {
                "database": describe(engine),
                "schema": {"revision": revision, "head": head_revision(), "current": revision == head_revision()},
                "at": now.isoformat(),
                "sources": _sources(conn, now, sources),
                "alerts": _alerts(conn, now),
                "outbox": _outbox(conn, now),
            }
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"database {describe(engine)!r}: cannot read status: {reason(exc)}") from exc


def _sources(conn: sa.Connection, now: datetime, configured: dict[str, float] | None) -> list[dict[str, Any]]:
    states = {r.source_id: r for r in conn.execute(sa.select(schema.source_state))}
    ids = list(configured) if configured is not None else sorted(states)
    out = []
    for sid in ids:
        row = states.get(sid)
        newest = conn.execute(sa.select(sa.func.max(schema.mentions.c.published_at))
                              .where(schema.mentions.c.source_id == sid)).scalar_one()
        interval = configured.get(sid) if configured is not None else None
        last_ok = row.last_success_at if row is not None else None
        lag = _age(now, last_ok)
        late = interval is not None and (
            lag > defaults.SOURCE_OVERDUE_FACTOR * interval if lag is not None else row is not None)
        out.append({
            "source": sid,
            "kind": row.kind if row is not None else None,
            "interval_seconds": interval,
            "last_success": _iso(last_ok),
            "lag_seconds": lag,  # since the last successful poll
            "late": bool(late),  # no success for SOURCE_OVERDUE_FACTOR intervals (or never, after trying)
            "consecutive_failures": int(row.consecutive_failures) if row is not None else 0,
            "last_error": row.last_error if row is not None else None,
            "last_error_at": _iso(row.last_error_at if row is not None else None),
            "newest_mention": _iso(newest),
            "newest_mention_age_seconds": _age(now, newest),
            "known": row is not None,  # False: never polled against this database
        })
    unknown = sorted(set(states) - set(ids))
    for sid in unknown:  # in the store but not (any more) in the config: shown, not judged
        row = states[sid]
        out.append({"source": sid, "kind": row.kind, "interval_seconds": None, "last_success":
                    _iso(row.last_success_at), "lag_seconds": _age(now, row.last_success_at), "late": False,
                    "consecutive_failures": int(row.consecutive_failures), "last_error": row.last_error,
                    "last_error_at": _iso(row.last_error_at), "newest_mention": None,
                    "newest_mention_age_seconds": None, "known": True, "not_configured": True})
    return out


def _alerts(conn: sa.Connection, now: datetime) -> list[dict[str, Any]]:
    out = []
    for a in records.list_alerts(conn, open_only=True, limit=1000):
        overdue = a.ack_deadline is not None and a.acknowledged_at is None and a.ack_deadline < now
        out.append({
            "id": a.id, "brand": a.brand, "level": a.level, "state": a.state.value, "drill": a.drill,
            "opened_at": _iso(a.opened_at), "age_seconds": _age(now, a.opened_at),
            "ack_deadline": _iso(a.ack_deadline), "ack_overdue": overdue,
            "acknowledged_by": a.acknowledged_by, "summary": a.summary,
        })
    return sorted(out, key=lambda a: (a["brand"], a["opened_at"]))


def _outbox(conn: sa.Connection, now: datetime) -> dict[str, Any]:
    ob = schema.outbox.c
    counts: dict[str, int] = dict(conn.execute(sa.select(ob.status, sa.func.count()).group_by(ob.status)).all())
    oldest_pending = conn.execute(sa.select(sa.func.min(ob.created_at))
                                  .where(ob.status.in_(("pending", "sending")))).scalar_one()
    oldest_due = conn.execute(sa.select(sa.func.min(ob.next_attempt_at))
                              .where(ob.status == "pending", ob.next_attempt_at <= now)).scalar_one()
    failed = conn.execute(sa.select(ob.id, ob.channel, ob.contact, ob.last_error, ob.created_at)
                          .where(ob.status == "failed").order_by(ob.created_at.desc()).limit(5)).all()
    return {
        **{s: int(counts.get(s, 0)) for s in OUTBOX_STATUSES},
        "oldest_waiting": _iso(oldest_pending),  # queued, not yet delivered (includes retry backoff)
        "oldest_waiting_age_seconds": _age(now, oldest_pending),
        "oldest_due_age_seconds": _age(now, oldest_due),  # due now and not taken: the dispatcher is behind
        "recent_failures": [{"id": r.id, "channel": r.channel, "contact": r.contact, "error": r.last_error,
                             "created_at": _iso(r.created_at)} for r in failed],
    }


# --- rendering ------------------------------------------------------------------------------


def span(seconds: float | None) -> str:
    """``95`` -> ``1m 35s``; two units are enough to read at a glance."""
    if seconds is None:
        return "-"
    s = int(round(abs(seconds)))
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    return " ".join([f"{n}{u}" for n, u in parts if n][:2]) or "0s"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header).rstrip()] + [fmt.format(*r).rstrip() for r in rows]


def _short(text: str | None, n: int = ERROR_CHARS) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def render(snap: dict[str, Any]) -> str:
    """The snapshot as terminal text: three tables and a headline per section."""
    sch = snap["schema"]
    schema_note = "current" if sch["current"] else f"behind {sch['head']}: run `brandpulse db upgrade`"
    lines = [f"BrandPulse status of {snap['database']} at {snap['at'][:19]}Z (schema {sch['revision']}, "
             f"{schema_note})", ""]

    srcs = snap["sources"]
    bad = [s for s in srcs if s["late"] or s["consecutive_failures"]]
    lines.append(f"SOURCES: {len(srcs)}, {len(bad)} need attention")
    rows = []
    for s in srcs:
        if not s["known"]:
            flag = "never polled"
        elif s["consecutive_failures"]:
            flag = "FAILING"
        elif s["late"]:
            flag = "LATE"
        else:
            flag = "unconfigured" if s.get("not_configured") else "ok"
        err = _short(s["last_error"])
        if s["last_error"] and s["last_error_at"]:
            err = f"{err} ({s['last_error_at'][:16]}Z)"
        rows.append([s["source"], flag, (s["last_success"] or "never")[:19].replace("T", " "),
                     span(s["lag_seconds"]), span(s["interval_seconds"]), str(s["consecutive_failures"]),
                     span(s["newest_mention_age_seconds"]), err])
    lines += _table(["SOURCE", "STATE", "LAST SUCCESS (UTC)", "LAG", "EVERY", "FAILS", "NEWEST", "LAST ERROR"],
                    rows)
    lines.append("")

    alerts = snap["alerts"]
    by_level: dict[str, int] = {}
    for a in alerts:
        by_level[a["level"]] = by_level.get(a["level"], 0) + 1
    summary = ", ".join(f"{lvl} {n}" for lvl, n in sorted(by_level.items()))
    lines.append(f"OPEN ALERTS: {len(alerts)}" + (f" ({summary})" if summary else ""))
    if alerts:
        rows = []
        for a in alerts:
            ack = ("by " + a["acknowledged_by"]) if a["acknowledged_by"] else (
                "OVERDUE" if a["ack_overdue"] else (f"due {a['ack_deadline'][11:16]}Z" if a["ack_deadline"] else "-"))
            rows.append([str(a["id"]), a["brand"], a["level"], a["state"] + (" (drill)" if a["drill"] else ""),
                         span(a["age_seconds"]), ack, _short(a["summary"], 60)])
        lines += _table(["ID", "BRAND", "LEVEL", "STATE", "AGE", "ACK", "SUMMARY"], rows)
    lines.append("")

    ob = snap["outbox"]
    waiting = (f"; oldest waiting {span(ob['oldest_waiting_age_seconds'])}"
               if ob["oldest_waiting_age_seconds"] is not None else "")
    behind = (f"; due and not taken for {span(ob['oldest_due_age_seconds'])}"
              if ob["oldest_due_age_seconds"] is not None else "")
    lines.append(f"OUTBOX: {ob['pending']} pending, {ob['sending']} sending, {ob['failed']} failed, "
                 f"{ob['done']} delivered, {ob['muted']} muted{waiting}{behind}")
    for f in ob["recent_failures"]:
        lines.append(f"  failed #{f['id']} {f['channel']} -> {f['contact']}: {_short(f['error'])}")
    return "\n".join(lines)
