"""Reloading the configuration and the crisis plan while the daemon runs (SIGHUP, or
``POST /api/v1/admin/reload``).

Everything new is read and validated first (config file, plan, every source and notifier,
secrets from the environment, the brand matcher); if anything is wrong the reload is
rejected, each problem is logged on its own line, and the running configuration stays in
charge untouched. Otherwise the parts are swapped without dropping work in flight:

- sources: unchanged ones keep running as they are (their connection, their schedule);
  changed ones are replaced and removed ones stopped, each after the poll it is in finishes;
  new ones are polled at once (on the replica that gets their lease);
- notifiers: unchanged ones are kept; replaced ones are closed after the delivery round that
  may be using them; the plan, brands and notifiers go into a new alert engine and dispatcher,
  which the next evaluation and delivery tick use (a tick in progress finishes with the old);
- brands: a new matcher for the next poll; the tokenizer, the duplicate detector's memory
  and the model are kept;
- what cannot change without a restart (storage, listen address, nlp, cluster, retention,
  log format) keeps its running value, and the log says which changed keys wait for a restart.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.mute import PlanMuter
from alerts.notify.base import Notifier
from monitor.errors import BrandPulseError, ConfigError, ConfigErrors
from monitor.parts import Parts, build_parts
from monitor.settings import Config, load_config
from nlp.process import TextProcessor
from sources.base import Source

if TYPE_CHECKING:
    from monitor.daemon import Daemon

log = logging.getLogger(__name__)

_lock = threading.Lock()  # one reload at a time (a SIGHUP and an API call may race)


@dataclass
class ReloadResult:
    ok: bool
    problems: list[str] = field(default_factory=list)  # one line each, when rejected
    changes: list[str] = field(default_factory=list)  # e.g. "source added: news", "plan changed"
    restart_needed: list[str] = field(default_factory=list)  # changed keys that only a restart applies


def reload_daemon(daemon: Daemon, path: str | None = None) -> ReloadResult:
    """Re-read ``path`` (default: the file the daemon started from) and swap it in, or reject it."""
    from monitor.api_push import attach_spools

    with _lock:
        old: Config = daemon.config
        file = path or old.file
        try:
            new = load_config(file)
            parts = build_parts(new, daemon.clock)
            attach_spools(parts.sources, daemon.engine)  # new or changed push sources read the store's spool
        except ConfigError as exc:
            return _reject(file, exc.lines() if isinstance(exc, ConfigErrors) else [str(exc)])
        try:
            processor = _processor(daemon, new) if new.brands != old.brands else None
        except (BrandPulseError, ValueError) as exc:
            _close_new(parts)
            return _reject(file, [f"{file}: brands: {exc}"])
        restart = _restart_needed(old, new)
        effective = dataclasses.replace(
            new, storage_url=old.storage_url, nlp=old.nlp, cluster=old.cluster, retention=old.retention,
            http=new.http.model_copy(update={"listen": old.http.listen}),
            logging=new.logging.model_copy(update={"format": old.logging.format}))
        changes = _swap(daemon, old, effective, parts, processor)
        log.info("config reloaded from %s: %s", file, "; ".join(changes) or "nothing changed")
        for key in restart:
            log.warning("config reload: %s changed; it takes effect at the next restart", key)
        return ReloadResult(True, changes=changes, restart_needed=restart)


def _reject(file: str, problems: list[str]) -> ReloadResult:
    log.error("config reload rejected, the running configuration stays: %d problem%s in %s",
              len(problems), "" if len(problems) == 1 else "s", file)
    for line in problems:
        log.error("config reload: %s", line)
    return ReloadResult(False, problems=problems)


def _processor(daemon: Daemon, new: Config) -> TextProcessor:
    old = daemon.processor
    return TextProcessor(new.brands, model=old.model, segmenter=old.segmenter, deduper=old.deduper,
                         crisis_terms=old.crisis_terms)


def _restart_needed(old: Config, new: Config) -> list[str]:
    checks: list[tuple[str, Any, Any]] = [
        ("storage.url", old.storage_url, new.storage_url),
        ("storage.retention", old.retention, new.retention),
        ("http.listen", old.http.listen, new.http.listen),
        ("http.auth", old.http.auth, new.http.auth),  # the API's authenticator is built at start
        ("nlp", old.nlp, new.nlp),
        ("cluster", old.cluster, new.cluster),
        ("logging.format", old.logging.format, new.logging.format),
    ]
    return [key for key, a, b in checks if a != b]


def _by_id(entries: Any) -> dict[str, Any]:
    return {e.id: e for e in entries if getattr(e, "enabled", True)}


def _swap(daemon: Daemon, old: Config, new: Config, parts: Parts, processor: TextProcessor | None) -> list[str]:
    changes: list[str] = []
    scheduler = daemon.scheduler
    # --- sources: keep the unchanged objects, replace the changed, add and remove
    old_cfg, new_cfg = _by_id(old.sources), _by_id(new.sources)
    running: dict[str, Source] = {s.id: s for s, _ in daemon.parts.sources}
    merged: list[tuple[Source, float]] = []
    for source, interval in parts.sources:
        sid = source.id
        if sid in old_cfg and old_cfg[sid] == new_cfg[sid] and sid in running:
            source.close()  # built only to validate: the running one carries on
            merged.append((running[sid], interval))
            continue
        merged.append((source, interval))
        if sid in running:
            changes.append(f"source changed: {sid}")
            if scheduler is not None:
                scheduler.replace_source(source, interval)
            else:
                running[sid].close()
        else:
            changes.append(f"source added: {sid}")
            if scheduler is not None:
                scheduler.add_source(source, interval)
        daemon.metrics.source_interval.labels(source=sid).set(interval)
    for sid in sorted(set(running) - {s.id for s, _ in parts.sources}):
        changes.append(f"source removed: {sid}")
        if scheduler is not None:
            scheduler.remove_source(sid)
        else:
            running[sid].close()
        try:
            daemon.metrics.source_interval.remove(sid)
        except KeyError:
            pass
    parts.sources = merged

    # --- notifiers: keep the unchanged objects; retire the rest after the delivery round in flight
    old_n, new_n = _by_id(old.notifiers), _by_id(new.notifiers)
    notifiers: dict[str, Notifier] = {}
    for nid, notifier in parts.notifiers.items():
        if nid in old_n and old_n[nid] == new_n[nid] and nid in daemon.parts.notifiers:
            _close_notifier(notifier)
            notifiers[nid] = daemon.parts.notifiers[nid]
        else:
            notifiers[nid] = notifier
            changes.append(f"notifier {'changed' if nid in old_n else 'added'}: {nid}")
    for nid, notifier in daemon.parts.notifiers.items():
        if notifiers.get(nid) is not notifier:
            daemon.retire_notifier(notifier)
            if nid not in new_n:
                changes.append(f"notifier removed: {nid}")
    parts.notifiers = notifiers

    # --- brands, plan, alert engine and dispatcher
    old_brands, new_brands = {b.id: b for b in old.brands}, {b.id: b for b in new.brands}
    for bid in sorted(set(old_brands) | set(new_brands)):
        if old_brands.get(bid) != new_brands.get(bid):
            what = "added" if bid not in old_brands else "removed" if bid not in new_brands else "changed"
            changes.append(f"brand {what}: {bid}")
    if old.plan != new.plan:
        changes.append("plan changed")
    if old.alerts != new.alerts:
        changes.append("alerts settings changed")
    assert parts.plan is not None  # build_parts rejects a config without one
    alert_engine = AlertEngine(daemon.engine, parts.plan, daemon.clock, metrics=daemon.metrics,
                               brand_names={b.id: b.name for b in new.brands})
    dispatcher = Dispatcher(daemon.engine, parts.notifiers, daemon.clock, metrics=daemon.metrics,
                            language=new.alerts.language, base_url=new.http.base_url,
                            link_secret=parts.link_secret, muter=PlanMuter(parts.plan),
                            claim_seconds=new.alerts.claim_timeout)
    if processor is not None:
        daemon.processor = processor
        daemon.pipeline.processor = processor
    daemon.alert_engine, daemon.dispatcher = alert_engine, dispatcher
    daemon.parts, daemon.config = parts, new
    daemon.store_collector.source_ids = [s.id for s, _ in parts.sources]
    daemon.keeper.want(daemon.wanted_leases())
    if scheduler is not None:
        scheduler.set_task_interval("evaluate", new.alerts.evaluate_interval)
        scheduler.set_task_interval("dispatch", new.alerts.dispatch_interval)
    if old.logging.level != new.logging.level:
        logging.getLogger().setLevel(new.logging.level)
        changes.append(f"log level: {new.logging.level}")
    return changes


def _close_notifier(notifier: Notifier) -> None:
    close = getattr(notifier, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.exception("notifier close failed")


def _close_new(parts: Parts) -> None:
    """Close what a rejected reload built (nothing of it ever ran)."""
    for source, _ in parts.sources:
        source.close()
    for notifier in parts.notifiers.values():
        _close_notifier(notifier)
