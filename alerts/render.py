"""Notification messages: subject and body from an alert, a reason and a language.

Templates are files in ``config/templates`` (``alert.<lang>.txt`` for first/escalated/repeat,
``resolved.<lang>.txt``), written as ``string.Template`` text whose first line is
``Subject: ...``; a brand team can reword them without touching code. Placeholders are
checked when the Renderer is built, so a typo fails at startup, not at 3 a.m.

    renderer = Renderer(base_url="https://brandpulse.example.com")
    msg = renderer.render(alert, NotifyReason.FIRST, outbox_row.payload)
    msg.subject, msg.body

With ``base_url`` and ``link_secret`` set, each message carries the contact's own ack link,
``{base_url}/ack/{alert id}?by={contact}&sig={sign_ack(secret, alert id, contact)}``: opening
it shows a confirmation page whose button acknowledges the alert as that contact
(monitor/api.py checks the signature).

Evidence ``top_terms`` / ``crisis_terms`` (lists of ``{"term", "mentions"}``, see
alerts.engine) render as one line each (``${top_terms}``, ``${crisis_terms}``).

The payload is the snapshot the engine stored with the outbox row (level, level name, state,
evidence, contact name and language), so a message describes the alert as it was when the
notification was decided, even if it is sent after a retry.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from monitor.errors import ConfigError
from monitor.models import Alert, NotifyReason

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
# config/templates of the checkout, or of $BRANDPULSE_HOME where an installed package runs (Docker: /app)
TEMPLATES_DIR = (
    Path(os.environ.get("BRANDPULSE_HOME") or Path(__file__).resolve().parent.parent) / "config" / "templates"
)
EXCERPT_CHARS = 120  # characters of a sample mention's text shown in a message

HEADLINES = {
    "zh": {
        NotifyReason.FIRST: "出现异常升高",
        NotifyReason.ESCALATED: "预警已升级",
        NotifyReason.REPEAT: "仍未确认，再次提醒",
        NotifyReason.RESOLVED: "已解除",
    },
    "en": {
        NotifyReason.FIRST: "unusual rise",
        NotifyReason.ESCALATED: "alert escalated",
        NotifyReason.REPEAT: "still unacknowledged, reminder",
        NotifyReason.RESOLVED: "resolved",
    },
}
# A repeat to an acknowledged alert is not a missed acknowledgement: its signals still fire.
STILL_FIRING = {"zh": "已确认，信号仍在", "en": "acknowledged, still firing"}
STATES = {
    "zh": {"firing": "待确认", "escalated": "已升级，待确认", "acknowledged": "已确认", "resolved": "已解除"},
    "en": {
        "firing": "firing",
        "escalated": "escalated",
        "acknowledged": "acknowledged",
        "resolved": "resolved",
    },
}
TEXTS = {
    "zh": {
        "drill": "[演练] ",
        "no_samples": "（无样例）",
        "no_terms": "（无）",
        "term_sep": "、",
        "ack": "确认告警：brandpulse alerts ack {id} --by 您的名字",
        "ack_url": "或打开：{url}",
        "ack_link": "或一键确认：{url}",
        "by_unknown": "未知",
    },
    "en": {
        "drill": "[DRILL] ",
        "no_samples": "(no samples)",
        "no_terms": "(none)",
        "term_sep": ", ",
        "ack": "Acknowledge: brandpulse alerts ack {id} --by NAME",
        "ack_url": "or open: {url}",
        "ack_link": "or acknowledge with one click: {url}",
        "by_unknown": "unknown",
    },
}


def sign_ack(secret: str, alert_id: int, contact: str) -> str:
    """The ack link's signature: hex HMAC-SHA256 of ``"{alert_id}:{contact}"``."""
    return hmac.new(secret.encode(), f"{alert_id}:{contact}".encode(), hashlib.sha256).hexdigest()


def ack_link(base_url: str, secret: str, alert_id: int, contact: str) -> str:
    sig = sign_ack(secret, alert_id, contact)
    return f"{base_url.rstrip('/')}/ack/{alert_id}?by={quote(contact, safe='')}&sig={sig}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            return value
    return "-"


def _terms(value: Any, texts: Mapping[str, str]) -> str:
    """Evidence terms (``[{"term": t, "mentions": n}, ...]``) as one line: "召回 (12)、变质 (8)"."""
    parts = [
        f"{_inline(t['term'])} ({t['mentions']})" if t.get("mentions") is not None else _inline(t["term"])
        for t in (value if isinstance(value, list) else [])
        if isinstance(t, Mapping) and t.get("term")
    ]
    return texts["term_sep"].join(parts) or texts["no_terms"]


# Control characters (terminal escape sequences, bell) and bidi overrides in a stranger's text
# would act on the reader's terminal or reorder what a chat shows; they are dropped.
_INERT = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _inline(text: Any) -> str:
    """Quoted stranger text as one inert line: whitespace runs (line breaks too, which could
    forge a line of the message) become one space, control and bidi characters go."""
    return " ".join(_INERT.sub(" ", str(text)).split())


def _excerpt(text: str) -> str:
    text = _inline(text)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


class Renderer:
    """Renders notification messages from the template files in ``templates_dir``."""

    def __init__(
        self,
        templates_dir: Path | str | None = None,
        *,
        base_url: str | None = None,
        default_lang: str = DEFAULT_LANG,
        link_secret: str | None = None,
    ) -> None:
        if default_lang not in LANGS:
            raise ConfigError(f"unknown message language {default_lang!r} (valid: {', '.join(LANGS)})")
        self.default_lang = default_lang
        self.templates_dir = Path(templates_dir) if templates_dir is not None else TEMPLATES_DIR
        self.base_url = base_url.rstrip("/") if base_url else None
        self.link_secret = link_secret or None
        self._templates: dict[tuple[str, str], tuple[string.Template, string.Template]] = {}
        for lang in LANGS:
            for name in ("alert", "resolved"):
                self._templates[(lang, name)] = self._load(self.templates_dir / f"{name}.{lang}.txt")

    def _load(self, path: Path) -> tuple[string.Template, string.Template]:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read message template: {exc.strerror or exc}", file=str(path)
            ) from None
        first, _, body = text.partition("\n")
        if not first.startswith("Subject:"):
            raise ConfigError("first line must be 'Subject: ...'", file=str(path), key_path="line 1")
        subject, body_t = string.Template(first[len("Subject:") :].strip()), string.Template(body.strip("\n"))
        known = set(self._values_for_check())
        for part in (subject, body_t):
            if not part.is_valid():
                raise ConfigError(
                    "invalid placeholder (use ${name}; write $$ for a dollar sign)", file=str(path)
                )
            unknown = sorted(set(part.get_identifiers()) - known)
            if unknown:
                raise ConfigError(
                    f"unknown placeholder {unknown[0]!r} (known: {', '.join(sorted(known))})", file=str(path)
                )
        return subject, body_t

    @staticmethod
    def _values_for_check() -> dict[str, str]:
        keys = (
            "drill_tag level_name level brand brand_name headline alert_id contact_name state opened_at "
            "window_start window_end negative total baseline ratio share samples ack resolved_at resolved_by "
            "top_terms crisis_terms"
        )
        return dict.fromkeys(keys.split(), "")

    def ack_hint(self, alert_id: int, lang: str, contact: str | None = None) -> str:
        texts = TEXTS[lang]
        hint = texts["ack"].format(id=alert_id)
        if self.base_url and self.link_secret and contact:
            hint += "\n" + texts["ack_link"].format(url=ack_link(self.base_url, self.link_secret, alert_id, contact))
        elif self.base_url:
            hint += "\n" + texts["ack_url"].format(url=f"{self.base_url}/api/v1/alerts/{alert_id}")
        return hint

    def render(
        self, alert: Alert, reason: NotifyReason | str, payload: Mapping[str, Any] | None = None
    ) -> Rendered:
        """Subject and body for one notification about ``alert``."""
        reason = NotifyReason(reason)
        payload = payload or {}
        lang = str(payload.get("lang")) if payload.get("lang") in LANGS else self.default_lang
        evidence: Mapping[str, Any] = payload.get("evidence") or alert.evidence or {}
        texts = TEXTS[lang]
        samples = evidence.get("samples") or []
        sample_lines = [
            f"- {_excerpt(s.get('author') or '') or '?'}: {_excerpt(s.get('text') or '')}"
            + (f" {_inline(s['url'])}" if s.get("url") else "")
            for s in samples
            if isinstance(s, Mapping)
        ]
        state = str(payload.get("state") or alert.state.value)
        share = evidence.get("negative_share")
        values = {
            "drill_tag": texts["drill"] if (payload.get("drill") or alert.drill) else "",
            "level": payload.get("level") or alert.level,
            "level_name": payload.get("level_name") or payload.get("level") or alert.level,
            "brand": alert.brand,
            "brand_name": payload.get("brand_name") or alert.brand,
            "headline": STILL_FIRING[lang] if reason is NotifyReason.REPEAT and state == "acknowledged"
            else HEADLINES[lang][reason],
            "alert_id": str(alert.id),
            "contact_name": payload.get("contact_name") or payload.get("contact") or "",
            "state": STATES[lang].get(state, state),
            "opened_at": _when(alert.opened_at),
            "window_start": _when(evidence.get("window_start")),
            "window_end": _when(evidence.get("window_end")),
            "negative": str(evidence.get("negative", "-")),
            "total": str(evidence.get("total", "-")),
            "baseline": str(evidence.get("baseline", "-")),
            "ratio": str(evidence.get("ratio", "-")),
            "share": f"{float(share):.0%}" if isinstance(share, int | float) else "-",
            "samples": "\n".join(sample_lines) or texts["no_samples"],
            "top_terms": _terms(evidence.get("top_terms"), texts),
            "crisis_terms": _terms(evidence.get("crisis_terms"), texts),
            "ack": self.ack_hint(alert.id, lang, str(payload.get("contact") or "") or None),
            "resolved_at": _when(payload.get("resolved_at") or alert.resolved_at),
            "resolved_by": payload.get("resolved_by") or alert.resolved_by or texts["by_unknown"],
        }
        subject_t, body_t = self._templates[
            (lang, "resolved" if reason is NotifyReason.RESOLVED else "alert")
        ]
        subject = " ".join(subject_t.substitute(values).split())  # a subject is one line
        return Rendered(subject=subject, body=body_t.substitute(values).rstrip() + "\n")
