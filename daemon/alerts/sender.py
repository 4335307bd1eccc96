"""What every alert sender offers the delivery loop."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from daemon.alerts.formatter import Message
from daemon.models import Delivery


class Sender(Protocol):
    can_look_back: bool
    """True when the sender can find a message it posted before (Slack Web API); then an alert
    left ``sending`` by a crash is looked for before it is posted again."""

    def send(self, message: Message, channel: str, thread_ts: str | None = None) -> Delivery:
        """Post ``message`` to ``channel`` (in the thread ``thread_ts``), or raise DeliveryError."""
        ...

    def find_delivery(
        self, channel: str, alert_id: int, oldest: datetime, thread_ts: str | None = None
    ) -> Delivery | None:
        """The message already posted for ``alert_id`` since ``oldest``, if it can be found."""
        ...
