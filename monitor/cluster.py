"""Replicas sharing the work: who this process is, and which leases it holds.

Every daemon is a replica with an id (``host-pid-random``, logged at start). Its
:class:`LeaseKeeper` heartbeats on a thread of its own:

- it holds ``replica:<id>`` so the others know it is alive and count it when they divide work;
- it renews every lease it holds in one statement, every ``heartbeat`` seconds;
- it claims wanted leases nobody holds (never claimed, released, or expired because their
  holder died), up to its fair share of each kind (``source``, ``eval``, ``task``): the number wanted
  divided by the replicas alive, rounded up; it gives back leases above its share (only
  ones whose work is idle) so a replica that joins gets work too;
- it looks again right when another replica's lease is due to expire, so a dead replica's
  work is taken over as soon as its leases run out, not a heartbeat later.

Whether this replica may act on a lease is decided locally: a lease counts as held until
``ttl`` (less a safety margin) after the claim or renewal that confirmed it was *sent*, by the
monotonic clock. If the database cannot be reached the leases lapse locally before they can
lapse in the database, and the work stops. A write that must be exclusive also fences
(:func:`monitor.store.leases.fence`), which catches the rest (a process paused past expiry).

    keeper = LeaseKeeper(engine, replica_id(), ttl=30, heartbeat=10)
    keeper.want(["source:weibo", "eval:acme"])
    keeper.start()
    if (lease := keeper.lease("source:weibo")) is not None:
        pipeline.poll(source, fence=keeper.fence_for(lease))
    keeper.stop()                                  # releases everything for the others at once
"""

from __future__ import annotations

import logging
import math
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor import defaults
from monitor.clock import Clock
from monitor.metrics import Metrics
from monitor.store import leases
from monitor.store.engine import begin_immediate, reason
from monitor.store.leases import Lease

log = logging.getLogger(__name__)

KINDS = ("source", "eval", "task")  # leases divided fairly between replicas; "replica" is membership
MIN_WAIT_SECONDS = 0.05  # the keeper never spins faster than this
EXPIRY_SLACK_SECONDS = 0.05  # look at an expiring lease this long after its expiry


def _host() -> str:
    return (socket.gethostname().split(".")[0] or "host")[:60]


def replica_id() -> str:
    """``host-pid-random``: unique per process start, readable in logs and in the leases table."""
    return f"{_host()}-{os.getpid()}-{secrets.token_hex(3)}"


def gone_from_this_host(holder: str) -> bool:
    """Whether ``holder`` is a replica id of a process of this host that no longer runs.

    Used with SQLite only, where every replica shares one machine (and one process namespace):
    a daemon restarted after a crash takes its predecessor's leases at once instead of waiting
    for them to expire. With PostgreSQL, replicas in containers may share a host name but not a
    process namespace, so there leases always run out instead.
    """
    host, _, rest = holder.rpartition("-")[0].rpartition("-")
    pid = rest
    if host != _host() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


class LeaseKeeper:
    """Claims, renews and gives back this replica's leases; see the module docstring.

    ``clock``: the lease clock. None means the database's own clock
    (:func:`monitor.store.leases.database_now`), which every replica shares. ``balance``:
    claim only a fair share of each kind (False: claim everything wanted, e.g. ``run --once``).
    ``on_acquired(name)`` runs on the keeper thread after a lease is taken (start its work now);
    ``can_release(name)`` says whether the lease's work is idle, so it can be given away.
    ``dead(holder)`` says a holder is certainly gone (:func:`gone_from_this_host`, SQLite
    only): its leases are taken at once instead of after they expire.
    """

    def __init__(self, engine: sa.Engine, replica: str, *, ttl: float, heartbeat: float,
                 clock: Clock | None = None, metrics: Metrics | None = None, balance: bool = True,
                 on_acquired: Callable[[str], None] | None = None,
                 can_release: Callable[[str], bool] | None = None,
                 dead: Callable[[str], bool] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not 0 < heartbeat < ttl:
            raise ValueError(f"heartbeat ({heartbeat}s) must be shorter than the lease ({ttl}s)")
        self.engine, self.replica, self.ttl, self.heartbeat = engine, replica, ttl, heartbeat
        self.clock, self.metrics, self.balance = clock, metrics, balance
        self.on_acquired, self.can_release, self.dead = on_acquired, can_release, dead
        self.monotonic = monotonic
        self.margin = min(defaults.LEASE_SAFETY_SECONDS, ttl * 0.1)
        self.member = f"replica:{replica}"
        self._wanted: set[str] = set()
        self._held: dict[str, tuple[Lease, float]] = {}  # name -> (lease, locally valid until, monotonic)
        self._ready: set[tuple[str, int]] = set()  # (name, token) already marked ready
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: str | None = None  # last heartbeat failure logged
        self._last_prune = -math.inf
        self.replicas = 1  # replicas alive at the last heartbeat, this one included

    # --- what the rest of the daemon asks ----------------------------------------------------

    def want(self, names: Iterable[str]) -> None:
        """Replace the set of leases this replica would like to hold (its membership is implied).
        Leases no longer wanted are given back at the next heartbeat, which starts now."""
        with self._lock:
            self._wanted = set(names)
        self._wake.set()

    def lease(self, name: str) -> Lease | None:
        """The lease if this replica holds it and it has not lapsed locally, else None."""
        with self._lock:
            entry = self._held.get(name)
        if entry is None or self.monotonic() >= entry[1]:
            return None
        return entry[0]

    def holds(self, name: str) -> bool:
        return self.lease(name) is not None

    def held(self) -> list[str]:
        now = self.monotonic()
        with self._lock:
            return sorted(n for n, (_, until) in self._held.items() if now < until and n != self.member)

    def now(self, conn: sa.Connection) -> datetime:
        """The lease clock's time."""
        return self.clock.now() if self.clock is not None else leases.database_now(conn)

    def fence_for(self, lease: Lease) -> Callable[[sa.Connection], None]:
        """A ``fence(conn)`` for :meth:`monitor.pipeline.Pipeline.poll`."""
        return lambda conn: leases.fence(conn, lease)

    def mark_ready(self, name: str) -> None:
        """Record (once per tenure) that the work taken over under ``name`` has caught up."""
        lease = self.lease(name)
        if lease is None or (name, lease.token) in self._ready:
            return
        try:
            with begin_immediate(self.engine) as conn:
                leases.mark_ready(conn, lease, self.now(conn))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("lease %s: cannot mark it caught up: %s", name, reason(exc))
            return
        self._ready.add((name, lease.token))

    # --- the heartbeat -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Take the first leases now (so the first polls find them), then heartbeat on a thread.
        A stopped keeper may be started again."""
        if self.running:
            return
        self._stop.clear()
        self._wake.clear()
        self.tick()
        self._thread = threading.Thread(target=self._loop, name="bp-leases", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop heartbeating; with ``release`` give every lease back so others take over at once."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        if release:
            self.release_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.tick()
            except Exception:  # never let the heartbeat thread die
                log.exception("lease heartbeat crashed")
                wait = self.heartbeat
            self._wake.wait(wait)
            self._wake.clear()

    def tick(self) -> float:
        """One heartbeat: renew, claim, give back. Returns the seconds until the next one."""
        sent = self.monotonic()
        try:
            with begin_immediate(self.engine) as conn:
                now = self.now(conn)
                with self._lock:
                    tokens = {n: lease.token for n, (lease, _) in self._held.items()}
                renewed = {x.name: x for x in leases.renew(conn, self.replica, tokens, self.ttl, now)}
                if self.monotonic() - self._last_prune > defaults.LEASE_PRUNE_INTERVAL_SECONDS:
                    self._last_prune = self.monotonic()
                    leases.prune_expired(conn, "replica:", now - timedelta(seconds=defaults.LEASE_FORGET_SECONDS))
                rows = {x.name: x for x in leases.all_leases(conn)}
        except sa.exc.SQLAlchemyError as exc:
            self._failed(reason(exc))
            return self.heartbeat
        if self._error is not None:
            log.info("lease heartbeat recovered")
            self._error = None
        with self._lock:
            for name in list(self._held):
                if name in renewed:
                    self._held[name] = (renewed[name], sent + self.ttl - self.margin)
                else:
                    del self._held[name]
                    now_held = rows.get(name)
                    who = now_held.holder if now_held is not None and now_held.live(now) else "nobody"
                    log.warning("lease lost name=%s (now held by %s)", name, who)
                    self._count(name, "lost")
        self.replicas = 1 + sum(1 for x in rows.values() if x.kind == "replica" and x.holder != self.replica
                                and x.live(now) and not self._dead(x.holder))
        self._claim_and_shed(rows, now)
        self._publish()
        return self._next_wait(rows, now)

    def _claim_and_shed(self, rows: dict[str, Lease], now: datetime) -> None:
        with self._lock:
            wanted = set(self._wanted)
            mine = set(self._held)
        for name in sorted(mine - wanted - {self.member}):  # no longer configured: give it back
            self._release(name)
        if self.member not in mine:
            self._claim(self.member, rows)
        if self.dead is not None:  # forget dead replicas of this host at once
            for x in rows.values():
                if x.kind == "replica" and self._dead(x.holder):
                    self._forget(x)
        for kind in KINDS:
            names = sorted(n for n in wanted if n.partition(":")[0] == kind)
            share = math.ceil(len(names) / self.replicas) if self.balance else len(names)
            held = [n for n in names if n in mine]
            if len(held) > share:  # a replica joined: give the excess back, idle work only
                excess = len(held) - share
                for name in held:
                    if excess and self._release(name, only_if_idle=True):
                        excess -= 1
                continue
            # free: never claimed, released, expired, or ours in the table but not here (it
            # lapsed locally, or this replica id restarted): claiming it starts a new tenure
            free = [n for n in names if n not in mine
                    and (n not in rows or not rows[n].live(now) or rows[n].holder == self.replica
                         or self._dead(rows[n].holder))]
            random.shuffle(free)  # replicas claiming together collide less
            for name in free:
                if len(held) >= share:
                    break
                if self._claim(name, rows):
                    held.append(name)

    def _dead(self, holder: str) -> bool:
        return self.dead is not None and holder != self.replica and self.dead(holder)

    def _claim(self, name: str, rows: dict[str, Lease]) -> bool:
        sent = self.monotonic()
        before = rows.get(name)
        gone = before.holder if before is not None and self._dead(before.holder) else None
        try:
            with begin_immediate(self.engine) as conn:
                lease = leases.claim(conn, name, self.replica, self.ttl, self.now(conn), takeover_from=gone)
        except sa.exc.SQLAlchemyError as exc:
            self._failed(reason(exc))
            return False
        if lease is None:
            return False  # another replica was quicker
        with self._lock:
            self._held[name] = (lease, sent + self.ttl - self.margin)
        previous = f" from {before.holder}" if before is not None and before.holder != self.replica else ""
        if name != self.member:
            log.info("lease acquired name=%s token=%d%s", name, lease.token, previous)
            self._count(name, "acquired")
            if self.on_acquired is not None:
                try:
                    self.on_acquired(name)
                except Exception:
                    log.exception("lease %s: starting its work failed", name)
        return True

    def _release(self, name: str, only_if_idle: bool = False) -> bool:
        with self._lock:
            entry = self._held.pop(name, None)
        if entry is None:
            return False
        # Out of the table first, idle check second: work that starts from now on finds no
        # lease, and work that started before shows up as busy (Scheduler._submit_poll).
        if only_if_idle and self.can_release is not None and not self.can_release(name):
            with self._lock:
                self._held[name] = entry
            return False
        try:
            with begin_immediate(self.engine) as conn:
                if name == self.member:
                    leases.forget(conn, entry[0])
                else:
                    leases.release(conn, entry[0], self.now(conn))
        except sa.exc.SQLAlchemyError as exc:  # it will simply expire
            log.warning("lease %s: cannot release it (it expires by itself): %s", name, reason(exc))
        if name != self.member:
            log.info("lease released name=%s token=%d", name, entry[0].token)
            self._count(name, "released")
        return True

    def _forget(self, lease: Lease) -> None:
        try:
            with begin_immediate(self.engine) as conn:
                leases.forget(conn, lease)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("lease %s: cannot forget it: %s", lease.name, reason(exc))

    def release_all(self) -> None:
        with self._lock:
            names = sorted(self._held, key=lambda n: n == self.member)  # membership last
        for name in names:
            self._release(name)
        self._publish()

    def _next_wait(self, rows: dict[str, Lease], now: datetime) -> float:
        """Until the next heartbeat, or just after the next expiry of a lease we want and do not hold."""
        wait = self.heartbeat
        with self._lock:
            mine, wanted = set(self._held), set(self._wanted)
        for name in wanted - mine:
            row = rows.get(name)
            if row is not None and row.live(now):
                wait = min(wait, (row.expires_at - now).total_seconds() + EXPIRY_SLACK_SECONDS)
        return max(MIN_WAIT_SECONDS, wait)

    def _failed(self, why: str) -> None:
        if self._error != why:
            log.warning("lease heartbeat failed (held leases lapse locally in at most %.0fs): %s", self.ttl, why)
            self._error = why
        now = self.monotonic()
        with self._lock:
            lapsed = [n for n, (_, until) in self._held.items() if now >= until]
            for name in lapsed:
                del self._held[name]
        for name in lapsed:
            if name != self.member:
                log.warning("lease lapsed name=%s (no heartbeat reached the database in time)", name)
                self._count(name, "lost")
        self._publish()

    def _count(self, name: str, change: str) -> None:
        if self.metrics is not None:
            self.metrics.lease_changes.labels(kind=name.partition(":")[0], change=change).inc()

    def _publish(self) -> None:
        if self.metrics is None:
            return
        held = self.held()
        for kind in KINDS:
            self.metrics.leases_held.labels(kind=kind).set(sum(1 for n in held if n.partition(":")[0] == kind))
        self.metrics.cluster_replicas.set(self.replicas)
