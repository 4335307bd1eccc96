"""Delivery policy: send due outbox entries, retry transient failures, stop on permanent ones."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from daemon.errors import DeliveryError
from daemon.metrics import Metrics
from daemon.models import Alert, Delivery
from daemon.store import Store

log = logging.getLogger(__name__)

Post = Callable[[Alert, str, datetime], Delivery]
"""Posts one alert to a channel at a given time; raises DeliveryError."""

MAX_ATTEMPTS = 12


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter (5 s, 10 s, 20 s … capped at 30 min); Retry-After wins."""
    delay = min(5.0 * 2 ** max(attempts - 1, 0), 1800.0) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(retry_after, 0.0)
    return timedelta(seconds=delay)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


class Deliverer:
    def __init__(
        self,
        store: Store,
        post: Post,
        clock: Callable[[], datetime],
        default_channel: str | None,
        channel_required: bool = True,
        batch: int = 100,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.store = store
        self.post = post
        self.clock = clock
        self.default_channel = default_channel
        self.channel_required = channel_required
        self.batch = batch

    def deliver_due(self) -> DeliveryReport:
        sent = retrying = failed = 0
        for alert in self.store.due_alerts(self.clock(), self.batch):
            outcome = self.deliver(alert)
            sent += outcome == "sent"
            retrying += outcome == "retry"
            failed += outcome == "failed"
        return DeliveryReport(sent, retrying, failed)

    def deliver(self, alert: Alert) -> str:
        channel = alert.channel or self.default_channel
        if channel is None:
            if self.channel_required:
                reason = "no channel: the rule has none and SANCTIONWATCH_SLACK_CHANNEL is not set"
                self.store.mark_failed(alert.id, reason)
                self.metrics.alerts_failed.labels("no_channel").inc()
                log.error("alert %s failed: %s", alert.id, reason)
                return "failed"
            channel = ""
        now = self.clock()
        try:
            delivery = self.post(alert, channel, now)
        except DeliveryError as error:
            attempts = alert.attempts + 1
            if error.permanent or attempts >= MAX_ATTEMPTS:
                self.store.mark_failed(alert.id, error.error)
                self.metrics.alerts_failed.labels(error.error[:64]).inc()
                log.error(
                    "alert failed",
                    extra={"alert": alert.id, "channel": channel, "error": error.error},
                )
                return "failed"
            self.store.mark_retry(
                alert.id, error.error, now + retry_delay(attempts, error.retry_after)
            )
            self.metrics.alerts_retried.inc()
            log.warning(
                "alert delivery will be retried",
                extra={"alert": alert.id, "channel": channel, "error": error.error},
            )
            return "retry"
        sent_at = self.clock()
        self.store.mark_sent(alert.id, delivery, sent_at)
        self.metrics.alerts_sent.inc()
        if alert.created_at is not None:
            latency = (sent_at - alert.created_at).total_seconds()
            self.metrics.delivery_latency.observe(max(latency, 0.0))
        return "sent"
