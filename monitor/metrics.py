"""Every BrandPulse metric, defined in one place against an injected registry.

Events are counters incremented where they happen (pipeline, alert engine, dispatcher).
Numbers derived from the store (open alerts, outbox backlog, source freshness) are computed
at scrape time by :class:`StoreCollector`, so they are right after a restart.

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.mentions_ingested.labels(brand="acme", source="weibo", sentiment="negative").inc()
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.store import schema

log = logging.getLogger(__name__)

PREFIX = "brandpulse"


class Metrics:
    """The daemon's metrics. Label names come from a fixed set: source, brand, channel,
    level, state, reason, sentiment, result, drill ("true" for drill traffic, else "false")."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.mentions_ingested = Counter(
            f"{PREFIX}_mentions_ingested_total", "Mentions stored, by brand, source and sentiment label.",
            ["brand", "source", "sentiment"], registry=registry)
        self.items_dropped = Counter(
            f"{PREFIX}_items_dropped_total",
            "Fetched items not stored as mentions, by reason (no_brand, duplicate, near_duplicate, repost, ...).",
            ["source", "reason"], registry=registry)
        self.sentiment_score = Histogram(
            f"{PREFIX}_sentiment_score",
            "Positive-sentiment probability of stored mentions (0 negative .. 1 positive).",
            ["brand"], buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), registry=registry)
        self.polls = Counter(
            f"{PREFIX}_polls_total", "Source polls, by result (ok, error).", ["source", "result"], registry=registry)
        self.poll_errors = Counter(
            f"{PREFIX}_poll_errors_total", "Failed source polls, by reason (fetch, parse, store, internal).",
            ["source", "reason"], registry=registry)
        self.parse_errors = Counter(
            f"{PREFIX}_parse_errors_total", "Malformed rows or entries skipped inside otherwise good polls.",
            ["source"], registry=registry)
        self.poll_duration = Histogram(
            f"{PREFIX}_poll_duration_seconds", "Time to poll a source, process and store its items.",
            ["source"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=registry)
        self.alerts_raised = Counter(
            f"{PREFIX}_alerts_raised_total", "Alerts opened, by brand, level and drill (true for drills).",
            ["brand", "level", "drill"], registry=registry)
        # Crisis KPIs (危机处理时效): from detection to the first acknowledgement and to resolution.
        kpi_buckets = (60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)
        self.time_to_ack = Histogram(
            f"{PREFIX}_alert_time_to_ack_seconds",
            "Seconds from an alert opening to its acknowledgement, by level acknowledged and drill.",
            ["level", "drill"], buckets=kpi_buckets, registry=registry)
        self.time_to_resolve = Histogram(
            f"{PREFIX}_alert_time_to_resolve_seconds",
            "Seconds from an alert opening to its resolution, by final level and drill.",
            ["level", "drill"], buckets=kpi_buckets, registry=registry)
        self.alert_transitions = Counter(
            f"{PREFIX}_alert_transitions_total", "Alert state changes, by brand, level and new state.",
            ["brand", "level", "state"], registry=registry)
        self.notifications = Counter(
            f"{PREFIX}_notifications_total",
            "Notification attempts, by channel, reason and result (sent, retry, failed).",
            ["channel", "reason", "result"], registry=registry)
        self.notifications_suppressed = Counter(
            f"{PREFIX}_notifications_suppressed_total",
            "Notifications muted or held instead of sent, by channel and reason (silence, maintenance, inhibition).",
            ["channel", "reason"], registry=registry)
        self.notify_duration = Histogram(
            f"{PREFIX}_notification_duration_seconds", "Time taken by one notifier call.", ["channel"],
            registry=registry)
        self.build_info = Gauge(
            f"{PREFIX}_build_info", "Always 1; labels carry the BrandPulse and Python versions.",
            ["version", "python"], registry=registry)
        self.build_info.labels(version=__version__, python=platform.python_version()).set(1)
        self.model_info = Gauge(
            f"{PREFIX}_model_info", "Always 1 for the loaded sentiment model; labels carry its version.",
            ["version"], registry=registry)
        # Configuration, exported so alert rules can judge each source against its own interval.
        self.source_interval = Gauge(
            f"{PREFIX}_source_poll_interval_seconds", "Configured seconds between polls of each enabled source.",
            ["source"], registry=registry)

        # Replicas sharing the work (monitor.cluster): per replica, scrape each one.
        self.leases_held = Gauge(
            f"{PREFIX}_leases_held",
            "Leases this replica holds, by kind (source: polls it, eval: evaluates the brand, task: runs a chore).",
            ["kind"], registry=registry)
        self.lease_changes = Counter(
            f"{PREFIX}_lease_changes_total",
            "Leases this replica acquired, released (rebalancing, stop) or lost (taken over, or no heartbeat in time).",
            ["kind", "change"], registry=registry)
        self.cluster_replicas = Gauge(
            f"{PREFIX}_cluster_replicas", "Replicas alive (this one included) at this replica's last lease heartbeat.",
            registry=registry)
        self.replica_info = Gauge(
            f"{PREFIX}_replica_info", "Always 1; the label carries this replica's id (host-pid-random).",
            ["replica"], registry=registry)

    def set_model(self, version: str) -> None:
        self.model_info.clear()
        self.model_info.labels(version=version).set(1)


class StoreCollector(Collector):
    """Gauges computed from the store at scrape time (never drift after a restart)."""

    def __init__(self, engine: sa.Engine, source_ids: list[str]) -> None:
        self.engine = engine
        self.source_ids = source_ids

    def describe(self) -> list:  # no describe-time queries: registration must not touch the store
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        last_ok = GaugeMetricFamily(
            f"{PREFIX}_source_last_success_timestamp_seconds",
            "Unix time of the last successful poll of each source.", labels=["source"])
        failing = GaugeMetricFamily(
            f"{PREFIX}_source_consecutive_failures", "Failed polls in a row, per source.", labels=["source"])
        open_alerts = GaugeMetricFamily(
            f"{PREFIX}_alerts_open", "Alerts not yet resolved, by brand, level and state.",
            labels=["brand", "level", "state"])
        backlog = GaugeMetricFamily(
            f"{PREFIX}_outbox_notifications", "Notifications in the outbox, by status.", labels=["status"])
        oldest_due = GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_due_timestamp_seconds",
            "Unix time since which the longest-waiting deliverable notification has been due (pending past its "
            "next attempt time, or claimed by a sender whose claim expired); absent when none is overdue.")
        try:
            with self.engine.connect() as conn:
                states = {r.source_id: r for r in conn.execute(sa.select(
                    schema.source_state.c.source_id, schema.source_state.c.last_success_at,
                    schema.source_state.c.consecutive_failures))}
                alerts = conn.execute(
                    sa.select(schema.alerts.c.brand, schema.alerts.c.level, schema.alerts.c.state, sa.func.count())
                    .where(schema.alerts.c.state != "resolved")
                    .group_by(schema.alerts.c.brand, schema.alerts.c.level, schema.alerts.c.state)).all()
                outbox: dict[str, int] = dict(conn.execute(
                    sa.select(schema.outbox.c.status, sa.func.count()).group_by(schema.outbox.c.status)).all())
                # Rows waiting for a retry backoff or a maintenance window are not due yet: only a
                # dispatcher that is stopped, hung or failing to write leaves due rows behind.
                now = datetime.now(UTC)
                ob = schema.outbox.c
                due_since = [t for t in (
                    conn.execute(sa.select(sa.func.min(ob.next_attempt_at))
                                 .where(ob.status == "pending", ob.next_attempt_at <= now)).scalar_one(),
                    conn.execute(sa.select(sa.func.min(ob.claimed_until))
                                 .where(ob.status == "sending", ob.claimed_until <= now)).scalar_one(),
                ) if t is not None]
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: store unreachable at scrape time: %s", str(exc).splitlines()[0])
            return
        for sid in self.source_ids:
            row = states.get(sid)
            if row is not None and row.last_success_at is not None:
                last_ok.add_metric([sid], row.last_success_at.timestamp())
            failing.add_metric([sid], float(row.consecutive_failures if row is not None else 0))
        for brand, level, state, n in alerts:
            open_alerts.add_metric([brand, level, state], float(n))
        for status in ("pending", "sending", "done", "failed", "muted"):
            backlog.add_metric([status], float(outbox.get(status, 0)))
        if due_since:
            oldest_due.add_metric([], min(due_since).timestamp())
        yield from (last_ok, failing, open_alerts, backlog, oldest_due)
