"""The dispatcher: drains the outbox through the notifiers.

For each due row: render the message, call the channel's notifier, then mark the row done,
or back to pending for a later attempt (retryable failure), or failed (permanent failure or
attempts used up). Each row is finished in its own transaction, so one slow or broken
channel never holds back another's progress, and nothing claimed is lost: a crash leaves the
claim to expire and the row is sent again (receivers dedupe on the outbox id).

A failing channel is logged when its failure starts or changes, and when it recovers, not on
every retry.

With a ``muter`` (the daemon passes the plan's), each row is checked again just before it is
sent (:func:`alerts.mute.recheck`): a notification superseded by a more severe level since it
was decided, or held by a maintenance window and no longer needed, is recorded as ``muted``
instead; one that falls into a maintenance window now is held until the window's end.

    dispatcher = Dispatcher(db, {"ops-webhook": webhook}, SystemClock(), metrics)
    while dispatcher.drain(limit=50) == 50:   # the scheduler calls it every DISPATCH_INTERVAL_SECONDS
        pass
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from alerts import outbox
from alerts.mute import Mute, Muter, recheck
from alerts.notify.base import Notifier
from alerts.records import find_alert
from alerts.render import DEFAULT_LANG, Rendered, Renderer
from monitor import defaults
from monitor.clock import Clock
from monitor.errors import NotifyError
from monitor.models import Alert, Notification, NotifyReason

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)

RenderFn = Callable[[Alert, NotifyReason, Mapping[str, Any]], Rendered]


class Dispatcher:
    """Sends due outbox rows. ``notifiers`` maps notifier id (the row's channel) -> Notifier.

    ``render`` turns (alert, reason, payload) into a subject and body; by default a
    :class:`~alerts.render.Renderer` with ``language`` (for contacts without their own),
    ``base_url`` and ``link_secret`` (for the signed ack link in messages). ``muter``
    re-checks muting at send time (see the module docstring). ``claim_seconds``: how long a
    row being sent stays claimed, i.e. how long a notification whose sender died mid-send
    waits before it is sent again; it must exceed the slowest notifier's timeout."""

    def __init__(
        self,
        engine: sa.Engine,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        metrics: Metrics | None = None,
        render: RenderFn | None = None,
        *,
        language: str = DEFAULT_LANG,
        base_url: str | None = None,
        link_secret: str | None = None,
        muter: Muter | None = None,
        claim_seconds: float = defaults.OUTBOX_CLAIM_SECONDS,
    ) -> None:
        self.engine = engine
        self.claim_seconds = claim_seconds
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.metrics = metrics
        self.muter = muter
        if render is None:
            render = Renderer(default_lang=language, base_url=base_url, link_secret=link_secret).render
        self.render: RenderFn = render
        self._failing: dict[str, str] = {}  # channel -> failure kind last logged (log on change only)
        self._bugs_logged: set[tuple[str, str]] = set()  # (channel, exception type) logged with traceback

    def drain(self, limit: int = 50) -> int:
        """Send up to ``limit`` due notifications. Returns how many rows were handled (sent,
        rescheduled or given up); equal to ``limit`` means more may be waiting."""
        handled = 0
        # One row per claim: a claim then only has to outlast one send, so a sender killed
        # mid-send holds back that one row for ``claim_seconds``, and rows later in a batch
        # never sit claimed (by a process that may be dead) behind a slow channel.
        while handled < limit:
            rows = outbox.claim(self.engine, self.clock.now(), 1, claim_seconds=self.claim_seconds)
            if not rows:
                break
            self._handle(rows[0])
            handled += 1
        return handled

    def _handle(self, row: outbox.OutboxRow) -> None:
        with self.engine.connect() as conn:
            alert = find_alert(conn, row.alert_id)
            mute = (
                recheck(self.muter, conn, alert, row, self.clock.now())
                if alert is not None and self.muter is not None
                else None
            )
        if mute is not None:
            self._mute(row, mute)
            return
        if alert is None:  # deleted (retention) after it was enqueued: nothing to say any more
            self._finish(
                row,
                NotifyError(
                    "alert no longer exists", channel=row.channel, retryable=False, reason="no_alert"
                ),
            )
            return
        notifier = self.notifiers.get(row.channel)
        if notifier is None:
            known = ", ".join(sorted(self.notifiers)) or "none"
            self._finish(
                row,
                NotifyError(
                    f"no notifier {row.channel!r} is configured (known: {known})",
                    channel=row.channel,
                    retryable=False,
                    reason="unknown_channel",
                ),
            )
            return
        try:
            rendered = self.render(alert, row.reason, row.payload)
        except Exception as exc:  # a template bug must not kill the loop or lose the row
            log.exception(
                "notification render failed outbox=%s alert=%s channel=%s", row.id, alert.id, row.channel
            )
            self._finish(
                row,
                NotifyError(
                    f"render failed: {type(exc).__name__}: {exc}",
                    channel=row.channel,
                    retryable=False,
                    reason="render",
                ),
            )
            return
        notification = Notification(
            outbox_id=row.id,
            alert_id=alert.id,
            brand=alert.brand,
            level=str(row.payload.get("level", alert.level)),
            reason=row.reason,
            channel=row.channel,
            contact=row.contact,
            subject=rendered.subject,
            body=rendered.body,
            payload=row.payload,
            attempt=row.attempts,
            drill=alert.drill,
        )
        started = time.perf_counter()
        error: NotifyError | None = None
        try:
            notifier.send(notification)
        except NotifyError as exc:
            error = exc
        except Exception as exc:  # a notifier bug: retry (it may be transient), show the traceback once
            key = (row.channel, type(exc).__name__)
            if key not in self._bugs_logged:
                self._bugs_logged.add(key)
                log.exception("notifier raised an unexpected error channel=%s outbox=%s", row.channel, row.id)
            error = NotifyError(
                f"unexpected {type(exc).__name__}: {exc}",
                channel=row.channel,
                retryable=True,
                reason="internal",
            )
        finally:
            if self.metrics is not None:
                self.metrics.notify_duration.labels(channel=row.channel).observe(
                    time.perf_counter() - started
                )
        self._finish(row, error)

    def _mute(self, row: outbox.OutboxRow, mute: Mute) -> None:
        with self.engine.begin() as conn:
            if mute.hold_until is not None:
                outbox.hold(conn, row.id, mute.hold_until, str(mute), row.payload, row.attempts)
            else:
                outbox.mute(conn, row.id, str(mute))
        # One suppression per notification: a held row that is later muted was counted when held.
        if self.metrics is not None and "held" not in row.payload:
            self.metrics.notifications_suppressed.labels(channel=row.channel, reason=mute.kind).inc()
        log.info(
            "notification %s channel=%s outbox=%s alert=%s contact=%s reason=%s why=%s",
            "held" if mute.hold_until else "muted",
            row.channel,
            row.id,
            row.alert_id,
            row.contact,
            row.reason.value,
            mute,
        )

    def _finish(self, row: outbox.OutboxRow, error: NotifyError | None) -> None:
        now = self.clock.now()
        with self.engine.begin() as conn:
            if error is None:
                outbox.complete(conn, row.id, now)
                result = "sent"
            else:
                status = outbox.fail(conn, row.id, now, str(error), error.retryable, row.attempts)
                result = "retry" if status == outbox.PENDING else "failed"
        if self.metrics is not None:
            self.metrics.notifications.labels(
                channel=row.channel, reason=row.reason.value, result=result
            ).inc()
        self._log(row, error, result)

    def _log(self, row: outbox.OutboxRow, error: NotifyError | None, result: str) -> None:
        ctx = (row.channel, row.id, row.alert_id, row.contact, row.reason.value, row.attempts)
        if error is None:
            if self._failing.pop(row.channel, None) is not None:
                log.info(
                    "channel recovered channel=%s outbox=%s alert=%s contact=%s reason=%s attempt=%s", *ctx
                )
            log.debug("notification sent channel=%s outbox=%s alert=%s contact=%s reason=%s attempt=%s", *ctx)
            return
        if result == "failed":  # a given-up notification is always worth a line
            log.error(
                "notification given up channel=%s outbox=%s alert=%s contact=%s reason=%s attempt=%s "
                "error=%s",
                *ctx,
                error,
            )
        kind = f"{error.reason}:{result}"
        if self._failing.get(row.channel) != kind:
            self._failing[row.channel] = kind
            if result != "failed":
                log.warning(
                    "channel failing channel=%s outbox=%s alert=%s contact=%s reason=%s attempt=%s "
                    "error=%s (retrying; logged again only if this changes)",
                    *ctx,
                    error,
                )
