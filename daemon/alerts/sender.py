"""What every alert sender offers the delivery loop."""

from __future__ import annotations

from typing import Protocol

from daemon.alerts.formatter import Message
from daemon.models import Delivery


class Sender(Protocol):
    def send(self, message: Message, channel: str, thread_ts: str | None = None) -> Delivery:
        """Post ``message`` to ``channel`` (in the thread ``thread_ts``), or raise DeliveryError."""
        ...
