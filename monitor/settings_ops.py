"""The operations sections of the configuration: access control (``http.auth``), replicas
(``cluster``) and retention (``storage.retention``), and ``Strict``, the base every settings
model shares (unknown keys rejected, frozen). monitor.settings assembles them into Config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor import defaults
from monitor.clock import parse_duration


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionSettings(Strict):
    """How long stored mentions are kept (monitor/store/retention.py). Off by default: nothing is
    ever deleted unless raw_days is set."""

    raw_days: int | None = Field(default=None, ge=1)  # keep mentions (text, author, URL) this long after publication
    aggregates_days: int | None = Field(default=None, ge=1)  # keep daily counts per brand this long; None = forever
    prune_interval: float = defaults.RETENTION_PRUNE_INTERVAL_SECONDS  # how often the daemon prunes

    _dur = field_validator("prune_interval", mode="before")(lambda cls, v: parse_duration(v))

    @model_validator(mode="after")
    def _order(self) -> RetentionSettings:
        if self.prune_interval <= 0:
            raise ValueError(f"prune_interval must be positive, got {self.prune_interval!r}")
        if self.aggregates_days is not None and self.raw_days is None:
            raise ValueError("aggregates_days needs raw_days (daily aggregates are written as raw mentions are pruned)")
        if self.aggregates_days is not None and self.raw_days is not None and self.aggregates_days < self.raw_days:
            raise ValueError(f"aggregates_days ({self.aggregates_days}) must be at least raw_days ({self.raw_days})")
        return self


class AuthSettings(Strict):
    """Who may use the API and the pages (monitor/auth.py). Roles are ordered read < respond <
    admin; a token of a higher role does everything a lower one may. A role no configured token
    reaches answers 403 naming the setting that enables it."""

    analyst_token_env: str | None = None  # env variable with the token of the read role (pages, GET API)
    responder_token_env: str | None = None  # env variable with the respond role's token (+ ack, resolve, corrections)
    admin_token_env: str | None = None  # env variable with the admin role's token (everything)
    session_secret_env: str | None = None  # env variable with the key signing login cookies; unset = random per start
    session_lifetime: float = defaults.SESSION_LIFETIME_SECONDS  # how long a browser login lasts
    failed_attempts_burst: int = Field(default=defaults.AUTH_FAILURE_BURST, ge=1)  # failures before throttling
    failed_attempts_refill: float = defaults.AUTH_FAILURE_REFILL_SECONDS  # one more attempt per this long
    anonymous_role: Literal["read"] | None = None  # "read": no login needed to read (loopback listen only)

    _dur = field_validator("session_lifetime", "failed_attempts_refill", mode="before")(
        lambda cls, v: parse_duration(v)
    )

    @field_validator("session_lifetime", "failed_attempts_refill")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"must be positive, got {v!r}")
        return v


class ClusterSettings(Strict):
    """Several replicas on one PostgreSQL database (monitor/cluster.py): each source is polled and
    each brand evaluated by one replica at a time, through leases in the database."""

    lease: float = defaults.CLUSTER_LEASE_SECONDS  # a dead replica's work is taken over after at most this long
    heartbeat: float | None = None  # how often a replica renews its leases; None = a third of the lease
    replica_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # None = host-pid-random

    _dur = field_validator("lease", "heartbeat", mode="before")(
        lambda cls, v: None if v is None else parse_duration(v)
    )

    @model_validator(mode="after")
    def _timing(self) -> ClusterSettings:
        if self.lease < 1:
            raise ValueError(f"lease must be at least 1s, got {self.lease!r}")
        if self.heartbeat is not None and not 0 < self.heartbeat <= self.lease / 2:
            raise ValueError(f"heartbeat ({self.heartbeat:g}s) must be positive and at most half the lease "
                             f"({self.lease:g}s), so one late heartbeat does not lose every lease")
        return self

    @property
    def heartbeat_seconds(self) -> float:
        return self.heartbeat if self.heartbeat is not None else self.lease * defaults.CLUSTER_HEARTBEAT_FRACTION
