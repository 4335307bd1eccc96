"""Alerts on standard output, for running without Slack credentials."""

from __future__ import annotations

import sys
from typing import TextIO

from daemon.alerts.formatter import Message
from daemon.errors import DeliveryError
from daemon.models import Delivery

CONSOLE_CHANNEL = "console"


class ConsoleSender:
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
