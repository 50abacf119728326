"""Handing a built report to a configured notifier.

- **Email** gets the whole report: a plain-text summary, the HTML page with its charts as
  inline ``cid:`` images (mail clients block ``data:`` URIs) and the self-contained HTML file
  attached, for forwarding and archiving. It goes through the email notifier's own SMTP path
  (TLS, login, reply classification), so a report is sent and retried exactly like an alert.
- **Chat channels** (WeCom, DingTalk, Feishu, Slack, webhook, console) get what fits a chat
  message through the ordinary ``Notifier.send``: the headline figures and a link to
  ``{http.base_url}/reports/{week|month}?brand=&end=``. The notifier escapes the text.

A report's notification ids are negative (``-report_sends.id``), so a receiver that drops
duplicates by ``X-BrandPulse-Notification`` never confuses one with an alert notification.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import cast
from urllib.parse import urlencode

from alerts.notify.base import IDEMPOTENCY_HEADER, Notifier
from alerts.notify.email import EmailNotifier
from monitor.errors import NotifyError
from monitor.models import Notification, NotifyReason
from monitor.reports import text as tx
from monitor.reports.build import Report

NOT_FOR_REPORTS = ("alertmanager",)  # notifier kinds that take alerts, not documents


def report_link(base_url: str | None, report: Report) -> str | None:
    """The report page on the daemon, or None when ``http.base_url`` is not set."""
    if not base_url:
        return None
    d = report.data
    query = {"end": d.period.last_day.isoformat(), "lang": report.lang}
    if d.brand_filter:
        query = {"brand": d.brand_filter, **query}
    return f"{base_url.rstrip('/')}/reports/{d.period.kind}?{urlencode(query)}"


def subject(report: Report) -> str:
    return f"【BrandPulse】{tx.title(report.data, report.lang)}"


def summary_text(report: Report, link: str | None) -> str:
    """The few lines a chat message or the email's plain-text part carries."""
    d, lang = report.data, report.lang
    w = tx.words(lang)
    lines = [tx.title(d, lang), "", tx.headline(d, lang), "",
             f"{w['mentions']} {tx.num(d.total)} ({w['vs_previous']} {tx.signed_pct(d.change)}) · "
             f"{w['negative_share']} {tx.pct(d.negative_share)} "
             f"({w['previous']} {tx.pct(d.previous_negative_share)}) · "
             f"{w['incidents']} {d.kpi.incidents}"]
    if d.negative_terms:
        lines.append(f"{w['negative_terms']}: " + ", ".join(f"{t} ({n})" for t, n in d.negative_terms[:5]))
    if link:
        lines += ["", ("完整报告：" if lang == "zh" else "Full report: ") + link]
    return "\n".join(lines) + "\n"


def deliver(notifier: Notifier, report: Report, *, contact: str, send_id: int, base_url: str | None) -> None:
    """Send ``report`` on ``notifier`` to ``contact`` ("" = the channel's default audience).
    Raises NotifyError (retryable or not) like ``Notifier.send``."""
    link = report_link(base_url, report)
    if isinstance(notifier, EmailNotifier):
        _email(notifier, report, contact=contact, send_id=send_id, link=link)
        return
    d = report.data
    notifier.send(Notification(
        outbox_id=-send_id, alert_id=0, brand=d.brand_filter or "*", level=f"report:{d.period.kind}",
        reason=NotifyReason.FIRST, channel=notifier.id, contact=contact, subject=subject(report),
        body=summary_text(report, link),
        payload={"state": "report", "level_name": tx.words(report.lang)[d.period.kind], "lang": report.lang,
                 "evidence": {"report": d.period.kind, "first_day": d.period.first_day.isoformat(),
                              "last_day": d.period.last_day.isoformat(), "mentions": d.total,
                              "negative_share": d.negative_share, "incidents": d.kpi.incidents, "url": link}},
    ))


def email_message(notifier: EmailNotifier, report: Report, *, to: list[str], send_id: int,
                  link: str | None) -> EmailMessage:
    d = report.data
    domain = parseaddr(notifier.options.from_address)[1].rpartition("@")[2]
    msg = EmailMessage()
    msg["Subject"] = subject(report)
    msg["From"] = notifier.options.from_address
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    # The same on every retry of this delivery, so mail systems can drop a duplicate.
    msg["Message-ID"] = f"<brandpulse.report.{d.period.slug}.{d.brand_filter or 'all'}.{send_id}@{domain}>"
    msg[IDEMPOTENCY_HEADER] = str(-send_id)
    msg.set_content(summary_text(report, link))
    cids = {c.name: f"{c.name}.{send_id}@brandpulse" for c in report.charts}
    msg.add_alternative(report.html(images={name: f"cid:{cid}" for name, cid in cids.items()}), subtype="html")
    html_part = cast(EmailMessage, msg.get_payload()[-1])  # type: ignore[index]
    for chart in report.charts:
        html_part.add_related(chart.png, maintype="image", subtype="png", cid=f"<{cids[chart.name]}>",
                              filename=f"{chart.name}.png")
    msg.add_attachment(report.html().encode("utf-8"), maintype="text", subtype="html",
                       filename=f"{report.slug}.html")
    return msg


def _email(notifier: EmailNotifier, report: Report, *, contact: str, send_id: int, link: str | None) -> None:
    to = notifier.options.recipients.get(contact) or notifier.options.to
    if not to:
        raise NotifyError(f"no email address for contact {contact!r}: add it under recipients or set to",
                          channel=notifier.id, retryable=False, reason="no_recipient")
    msg = email_message(notifier, report, to=list(to), send_id=send_id, link=link)
    try:
        # The notifier's own SMTP conversation and failure rules; only the message differs.
        notifier._deliver(msg, [parseaddr(a)[1] for a in to])
    except (smtplib.SMTPException, OSError) as exc:
        raise notifier._error(exc) from None
