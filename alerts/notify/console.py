"""The console notifier: logs one line per notification and prints the message to stdout.

For the embedded demo and for trying a crisis plan out without any real channel:

    notifiers:
      - {id: console, kind: console}            # options: stream (stdout or stderr)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import ClassVar, Literal

from alerts.notify.base import NotifierOptions
from monitor.models import Notification

log = logging.getLogger(__name__)


class ConsoleOptions(NotifierOptions):
    stream: Literal["stdout", "stderr"] = "stdout"  # where the rendered message is printed


class ConsoleNotifier:
    """Never fails (short of a closed stdout), so it is a safe fallback channel.

    notifier = ConsoleNotifier("console")
    notifier.send(notification)     # logs "notification alert=3 brand=acme ..." and prints it
    """

    kind: ClassVar[str] = "console"
    Options = ConsoleOptions

    def __init__(
        self,
        notifier_id: str,
        options: ConsoleOptions | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        file: str | None = None,
        key_path: str | None = None,
    ) -> None:
        self.id = notifier_id
        self.options = options or ConsoleOptions()

    def send(self, notification: Notification) -> None:
        n = notification
        log.info(
            "notification channel=%s alert=%s brand=%s level=%s reason=%s contact=%s drill=%s",
            self.id,
            n.alert_id,
            n.brand,
            n.level,
            n.reason.value,
            n.contact,
            n.drill,
        )
        stream = sys.stdout if self.options.stream == "stdout" else sys.stderr
        rule = "-" * 60
        print(
            f"{rule}\nTo: {n.contact}  via: {self.id}  [{n.reason.value}]\n"
            f"Subject: {n.subject}\n\n{n.body}{rule}",
            file=stream,
            flush=True,
        )

    def close(self) -> None:
        pass
