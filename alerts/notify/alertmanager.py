"""Prometheus Alertmanager notifier: pushes BrandPulse alerts into an existing Alertmanager.

    notifiers:
      - id: ops-alertmanager
        kind: alertmanager
        url: "http://alertmanager.example.com:9093"   # base URL; we POST <url>/api/v2/alerts
        labels: {team: brand-pr}                      # extra labels for Alertmanager's routing
        severities: {watch: info, warning: warning, crisis: critical}   # level id -> severity label
        generator_url: "https://bp.example.com/api/v1/alerts/{alert}"   # link back; {alert} = alert id
        expire_after: 1d                              # a firing alert not re-sent by then resolves itself

Each notification becomes one Alertmanager alert with labels ``alertname="BrandPulseCrisis"``,
``brand``, ``level``, ``severity``, ``alert_id`` (+ ``drill="true"`` for drills) and
annotations ``summary`` (subject) and ``description`` (body). Alertmanager identifies an alert
by its labels, so the same alert sent to several contacts arrives once.

Alertmanager resolves an alert whose ``endsAt`` passes, and without ``endsAt`` after its own
``resolve_timeout`` (5 min by default) unless it is re-sent. BrandPulse sends only on first,
escalated, repeat and resolved, so a firing alert carries ``endsAt = now + expire_after`` and
the resolved notification sets ``endsAt`` to the resolution time. On escalation the level
label changes; the entries of the levels this process sent before are ended in the same POST.
Alertmanager answers 200; other statuses follow the shared rule.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, field_validator

from alerts.notify.base import (
    DEFAULT_TIMEOUT_SECONDS,
    EnvName,
    HttpNotifier,
    HttpUrl,
    NotifierOptions,
    Timeout,
)
from monitor.models import Notification, NotifyReason

ALERTNAME = "BrandPulseCrisis"
OWN_LABELS = ("alertname", "brand", "level", "severity", "alert_id", "drill")
REMEMBERED_ALERTS = 10_000  # alerts whose sent levels we keep in memory (for ending old levels)


def _duration(value: Any) -> Any:
    """1d, 12h, 90m, 30s or a number of seconds (the config's duration syntax)."""
    if isinstance(value, str) and value[-1:] in "smhd" and value[:-1].isdigit():
        return int(value[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[value[-1]]
    return value


class AlertmanagerOptions(NotifierOptions):
    url: HttpUrl  # Alertmanager's base URL
    token_env: EnvName | None = None  # env var holding a bearer token (Alertmanager behind a proxy)
    labels: dict[str, str] = {}  # extra static labels
    severities: dict[str, str] = {"watch": "info", "warning": "warning", "crisis": "critical"}
    generator_url: str | None = None  # "{alert}" is replaced by the alert id
    expire_after: float = Field(default=86_400.0, ge=60)  # seconds a firing alert stays active in Alertmanager
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS

    @field_validator("expire_after", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a valid Prometheus label name")
            if name in OWN_LABELS:
                raise ValueError(f"label {name!r} is set by BrandPulse (own labels: {', '.join(OWN_LABELS)})")
        return value


def _when(text: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertmanagerNotifier(HttpNotifier):
    """POSTs each notification as an alert to Alertmanager's v2 API.

    notifier = build_notifier("am", "alertmanager", {"url": "http://127.0.0.1:9093"})
    notifier.send(notification)     # firing until resolved (or expire_after passes)
    """

    kind: ClassVar[str] = "alertmanager"
    Options = AlertmanagerOptions
    options: AlertmanagerOptions

    SECRETS: ClassVar[Mapping[str, str]] = {"token_env": "a bearer token"}

    def configure(self, *, file: str | None, key_path: str | None) -> None:
        self._levels: OrderedDict[int, set[str]] = OrderedDict()  # alert id -> levels sent

    def headers(self) -> dict[str, str]:
        token = self.secret("token_env")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _alert(self, n: Notification, level: str, starts: datetime, ends: datetime) -> dict[str, Any]:
        labels = {
            **self.options.labels,
            "alertname": ALERTNAME,
            "brand": n.brand,
            "level": level,
            "severity": self.options.severities.get(level, level),
            "alert_id": str(n.alert_id),
        }
        if n.drill:
            labels["drill"] = "true"
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": {"summary": n.subject, "description": n.body},
            "startsAt": _iso(starts),
            "endsAt": _iso(ends),
        }
        if self.options.generator_url:
            alert["generatorURL"] = self.options.generator_url.replace("{alert}", str(n.alert_id))
        return alert

    def alerts(self, n: Notification, now: datetime) -> list[dict[str, Any]]:
        """The alerts one notification posts: its own, plus earlier levels of it now ended."""
        earlier = self._levels.get(n.alert_id, set()) - {n.level}
        if n.reason is NotifyReason.RESOLVED:
            ended = _when(n.payload.get("resolved_at")) or now
            current = self._alert(n, n.level, ended, ended)  # startsAt = endsAt: Alertmanager keeps the earliest
        else:
            current = self._alert(n, n.level, now, now + timedelta(seconds=self.options.expire_after))
        return [current] + [self._alert(n, level, now, now) for level in sorted(earlier)]

    def send(self, notification: Notification) -> None:
        n = notification
        self.post(self.options.url.rstrip("/") + "/api/v2/alerts", json=self.alerts(n, datetime.now(UTC)))
        # Remembered only once delivered: a failed POST is retried with the same earlier levels.
        self._levels.pop(n.alert_id, None)
        if n.reason is not NotifyReason.RESOLVED:
            self._levels[n.alert_id] = {n.level}
            while len(self._levels) > REMEMBERED_ALERTS:
                self._levels.popitem(last=False)
