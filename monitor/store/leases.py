"""Leases: which replica does which exclusive piece of work, for how long, and with which token.

Several daemon replicas share one PostgreSQL database. A lease names one piece of work that
only one of them may do at a time: ``source:<id>`` (polling a source), ``eval:<brand>``
(evaluating a brand's alerts), and ``replica:<id>`` (a replica announcing it is alive, so the
others can divide the work fairly). On SQLite the one daemon holds every lease.

    now = database_now(conn)                          # one clock for every replica (see below)
    lease = claim(conn, "source:weibo", "web-1-4242-a1b2", 30.0, now)   # None: someone else has it
    held = renew(conn, "web-1-4242-a1b2", {lease.name: lease.token}, 30.0, now)
    with engine.begin() as conn:                      # a write only the holder may make
        fence(conn, lease)                            # raises LeaseLost after a takeover
        save_cursor(conn, ...)
    release(conn, lease, now)

**Expiry and takeover.** A lease lasts ``ttl`` seconds from its last claim or renewal; the
holder renews it well before then (a heartbeat). A replica that dies stops renewing, and once
``expires_at`` has passed anyone may claim the lease.

**Fencing.** Every claim starts a new tenure with a greater ``token`` (renewals keep it). A
replica that was paused (or cut off from the database) past its expiry still believes it holds
the lease; ``fence(conn, lease)`` in the same transaction as its write finds
a different token and raises :class:`LeaseLost`, so the write rolls back instead of
overwriting the new holder's. On PostgreSQL ``fence`` also locks the lease row until the
transaction ends, so a takeover waits for a write already under way instead of racing it.
Lease rows are never deleted (except a replica's own membership row), so a token never goes
back.

**Clocks.** Every function takes ``now`` from the caller, who must use one time source for all
replicas: :func:`database_now` (the PostgreSQL server's clock: replica hosts whose clocks
disagree by seconds still agree on it) or, on SQLite, the process clock (one machine). Whether
a replica may still act on a lease it holds is decided locally with a monotonic timer started
*before* the claim or renewal was sent, which never outlives the database's expiry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor.errors import StoreError
from monitor.store.engine import dialect_insert
from monitor.store.schema import leases

_L = leases.c
MAX_NAME_CHARS = 300
MAX_HOLDER_CHARS = 200


class LeaseLost(StoreError):
    """A write that needs a lease found that another replica holds it now (or it was released)."""

    def __init__(self, name: str, holder: str, token: int, detail: str) -> None:
        self.name, self.holder, self.token = name, holder, token
        super().__init__(f"lease {name!r} lost by {holder} (token {token}): {detail}")


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    token: int  # fencing token: grows on every takeover
    acquired_at: datetime  # when this holder took it (kept across renewals)
    expires_at: datetime  # in the lease clock (database_now on PostgreSQL)
    ready_at: datetime | None = None  # when the holder caught up on the work it took over (mark_ready)

    @property
    def kind(self) -> str:
        """``source``, ``eval`` or ``replica``: the part of the name before the first colon."""
        return self.name.partition(":")[0]

    def live(self, now: datetime) -> bool:
        return self.expires_at > now

    @classmethod
    def from_row(cls, row: Any) -> Lease:
        return cls(row.name, row.holder, int(row.token), row.acquired_at, row.expires_at, row.ready_at)


def _check(name: str, holder: str, now: datetime, ttl: float | None = None) -> None:
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"lease name {name[:80]!r} must be 1-{MAX_NAME_CHARS} characters")
    if not holder or len(holder) > MAX_HOLDER_CHARS:
        raise ValueError(f"lease {name}: holder {holder[:80]!r} must be 1-{MAX_HOLDER_CHARS} characters")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"lease {name}: now {now!r} is naive; give a timezone-aware datetime")
    if ttl is not None and not ttl > 0:
        raise ValueError(f"lease {name}: ttl must be positive seconds, got {ttl!r}")


def database_now(conn: sa.Connection) -> datetime:
    """The time every replica agrees on: the PostgreSQL server's clock (aware UTC).

    SQLite has no server; all its users share one machine, whose clock this returns.
    """
    if conn.dialect.name == "postgresql":
        value = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        return value.astimezone(UTC)  # type: ignore[no-any-return]
    return datetime.now(UTC)


def claim(conn: sa.Connection, name: str, holder: str, ttl: float, now: datetime, *,
          takeover_from: str | None = None) -> Lease | None:
    """Start a new tenure of ``name`` for ``ttl`` seconds, unless another holder's lease is live
    (then None). ``takeover_from``: a holder known to be dead (its process is gone), whose live
    lease may be taken at once; only if it still holds it.

    One atomic statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE), so two replicas
    claiming at once cannot both win. Every successful claim increases the token and clears
    ``ready_at``, even of a lease this holder already has in the table (a restart under a fixed
    replica id, or a lease that lapsed locally): writes begun under the old tenure are fenced.
    Keeping a tenure is :func:`renew`.
    """
    _check(name, holder, now, ttl)
    expires = now + timedelta(seconds=ttl)
    ins = dialect_insert(conn, leases)
    stmt = (
        ins.values(name=name, holder=holder, token=1, acquired_at=now, renewed_at=now, expires_at=expires,
                   ready_at=None)
        .on_conflict_do_update(
            index_elements=[_L.name],
            set_={
                "holder": holder,
                "token": _L.token + 1,
                "acquired_at": ins.excluded.acquired_at,
                "ready_at": sa.null(),
                "renewed_at": ins.excluded.renewed_at,
                "expires_at": ins.excluded.expires_at,
            },
            where=sa.or_(_L.expires_at <= now, _L.holder == holder,
                         *([_L.holder == takeover_from] if takeover_from else [])),
        )
        .returning(*leases.c)
    )
    row = conn.execute(stmt).first()
    return None if row is None else Lease.from_row(row)


def renew(conn: sa.Connection, holder: str, tokens: Mapping[str, int], ttl: float, now: datetime) -> list[Lease]:
    """Extend every lease in ``tokens`` (name -> token) that ``holder`` still holds with that
    token; return those (a lease missing from the result was taken over or released).

    One UPDATE for all of them: a replica holding a hundred sources heartbeats in one statement.
    A lease that expired but that nobody took over is still renewed: nobody else acted under it.
    """
    if not tokens:
        return []
    _check(min(tokens), holder, now, ttl)
    pairs = sorted(tokens.items())
    rows = conn.execute(
        leases.update()
        .where(_L.holder == holder, sa.tuple_(_L.name, _L.token).in_(pairs))
        .values(renewed_at=now, expires_at=now + timedelta(seconds=ttl))
        .returning(*leases.c)
    ).all()
    return sorted((Lease.from_row(r) for r in rows), key=lambda lease: lease.name)


def release(conn: sa.Connection, lease: Lease, now: datetime) -> bool:
    """Give the lease up now (a clean stop, or rebalancing). Returns whether we still held it.

    The row stays, expired, so the next claim increases the token.
    """
    _check(lease.name, lease.holder, now)
    result = conn.execute(
        leases.update()
        .where(_L.name == lease.name, _L.holder == lease.holder, _L.token == lease.token)
        .values(expires_at=sa.case((_L.expires_at > now, now), else_=_L.expires_at))
    )
    return bool(result.rowcount)


def forget(conn: sa.Connection, lease: Lease) -> bool:
    """Delete a lease row outright: only for names never reused (a replica's ``replica:<id>``)."""
    result = conn.execute(
        leases.delete().where(_L.name == lease.name, _L.holder == lease.holder, _L.token == lease.token)
    )
    return bool(result.rowcount)


def fence(conn: sa.Connection, lease: Lease) -> None:
    """Raise LeaseLost unless ``lease`` (name, holder, token) is still the current tenure.

    Call it inside the transaction of a write that only the holder may make, before the
    write. It is a conditional UPDATE: on PostgreSQL it locks the lease row until the
    transaction ends, so a takeover cannot slip in between this check and the commit; on
    SQLite it takes the write lock, with the same effect.
    """
    result = conn.execute(
        leases.update()
        .where(_L.name == lease.name, _L.holder == lease.holder, _L.token == lease.token)
        .values(token=_L.token)
    )
    if not result.rowcount:
        current = conn.execute(sa.select(_L.holder, _L.token).where(_L.name == lease.name)).first()
        detail = "no such lease" if current is None else f"now held by {current.holder} with token {current.token}"
        raise LeaseLost(lease.name, lease.holder, lease.token, detail)


def mark_ready(conn: sa.Connection, lease: Lease, now: datetime) -> bool:
    """Note that the holder has caught up on the work it took over (a source's first poll
    round is done); cleared by the next takeover. Returns whether the tenure still held."""
    result = conn.execute(
        leases.update()
        .where(_L.name == lease.name, _L.holder == lease.holder, _L.token == lease.token, _L.ready_at.is_(None))
        .values(ready_at=now)
    )
    return bool(result.rowcount)


def holder(conn: sa.Connection, name: str, now: datetime) -> Lease | None:
    """The live lease on ``name``, or None when nobody holds it (never claimed, released or expired)."""
    row = conn.execute(sa.select(leases).where(_L.name == name)).first()
    if row is None:
        return None
    lease = Lease.from_row(row)
    return lease if lease.live(now) else None


def all_leases(conn: sa.Connection, prefix: str | None = None) -> list[Lease]:
    """Every lease row (live or not), by name; with ``prefix`` only names starting with it."""
    stmt = sa.select(leases).order_by(_L.name)
    if prefix is not None:
        stmt = stmt.where(_L.name.startswith(prefix, autoescape=True))
    return [Lease.from_row(r) for r in conn.execute(stmt)]


def prune_expired(conn: sa.Connection, prefix: str, before: datetime) -> int:
    """Delete rows under ``prefix`` that expired before ``before``: for membership rows
    (``replica:``) of replicas long gone, whose names are never reused. Returns how many."""
    result = conn.execute(
        leases.delete().where(_L.name.startswith(prefix, autoescape=True), _L.expires_at < before)
    )
    return int(result.rowcount or 0)
