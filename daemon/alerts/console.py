"""Alerts on standard output, for running without Slack credentials."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from daemon.alerts.formatter import Message, format_alert
from daemon.errors import DeliveryError
from daemon.models import Alert, Delivery

CONSOLE_CHANNEL = "console"


class ConsoleSender:
    can_look_back = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def send(self, message: Message, channel: str, thread_ts: str | None = None) -> Delivery:
        destination = channel or CONSOLE_CHANNEL
        heading = f"── alert for {destination}" + (" (follow-up)" if thread_ts else "") + " ──"
        try:
            self.stream.write(f"{heading}\n{message.console_text or message.text}\n")
            self.stream.flush()
        except OSError as error:
            raise DeliveryError(destination, f"cannot write: {error}", permanent=False) from error
        return Delivery(destination, None)

    def find_delivery(
        self, channel: str, alert_id: int, oldest: datetime, thread_ts: str | None = None
    ) -> Delivery | None:
        return None

    def send_alert(self, alert: Alert, channel: str, now: datetime) -> Delivery:
        return self.send(format_alert(alert, now), channel, alert.thread_ts)
