"""Delivery policy: place alerts in threads, pace, post, retry transient failures, stop on
permanent ones, and never post an alert twice that Slack already accepted.

Each pass first decides, oldest first, where every new alert goes: a reply in the thread of an
earlier alert about the same event, a top-level message, or nowhere (below the channel's
minimum severity, inside a rule's quiet window). Then it posts what is due. An alert is claimed
(``sending``, committed) before it is posted; an alert found ``sending`` again (after a crash, or
after a timeout or 5xx that may have reached Slack) is first looked for in Slack's history by
its alert id when the sender can do that.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from daemon.alerts.digest import format_digest
from daemon.alerts.formatter import format_alert
from daemon.alerts.routing import Routing
from daemon.alerts.sender import Sender
from daemon.alerts.threads import TITLE_SIMILARITY, find_thread_root
from daemon.errors import DeliveryError
from daemon.metrics import Metrics
from daemon.models import Alert, Delivery
from daemon.store import Store

log = logging.getLogger(__name__)

NO_CHANNEL = "no channel: the rule has none and SANCTIONWATCH_SLACK_CHANNEL is not set"
HISTORY_MARGIN = timedelta(minutes=5)
"""How far before the first attempt the history is searched (clock skew with Slack)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    pace: timedelta = timedelta(seconds=1)
    """Time between two messages to one channel (Slack asks for about one per second)."""
    lease: timedelta = timedelta(minutes=2)
    """How long a claimed alert is left to its claimant before another attempt may take it."""
    max_attempts: int = 12
    backoff_base: timedelta = timedelta(seconds=1)
    backoff_cap: timedelta = timedelta(minutes=30)
    thread_window: timedelta = timedelta(hours=48)
    title_similarity: float = TITLE_SIMILARITY
    routing: Routing = field(default_factory=Routing)


def retry_delay(
    attempts: int, retry_after: float | None, policy: DeliveryPolicy = DeliveryPolicy()
) -> timedelta:
    """Exponential backoff with jitter (1 s, 2 s, 4 s … capped); a Retry-After wins."""
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, 0.0))
    base = policy.backoff_base.total_seconds() * 2 ** max(attempts - 1, 0)
    delay = min(base, policy.backoff_cap.total_seconds()) * random.uniform(0.8, 1.2)
    return timedelta(seconds=delay)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suppressed: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.suppressed + other.suppressed,
        )


class Deliverer:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        clock: Callable[[], datetime],
        default_channel: str | None,
        channel_required: bool = True,
        policy: DeliveryPolicy | None = None,
        batch: int = 100,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.default_channel = default_channel
        self.channel_required = channel_required
        self.policy = policy or DeliveryPolicy()
        self.batch = batch
        self.metrics = metrics or Metrics()
        self.sleep = sleep
        self._free_at: dict[str, datetime] = {}
        """Per channel: when the next message may go (pacing, Retry-After)."""

    # passes -------------------------------------------------------------------------------------

    def deliver_due(self) -> DeliveryReport:
        """One pass: decide new alerts, then post every due one, paced per channel."""
        report = self.decide_new()
        queue = self.store.due_alerts(self.clock(), self.batch)
        while queue:
            alert = min(queue, key=lambda a: (self._free_at_for(self._channel(a)), a.id))
            queue.remove(alert)
            channel = self._channel(alert)
            wait = (self._free_at_for(channel) - self.clock()).total_seconds()
            if wait > 2 * self.policy.pace.total_seconds():
                self.store.defer(alert.id, self._free_at_for(channel))
                continue
            if wait > 0:
                self.sleep(wait)
            if alert.thread_of is None:
                outcome, root_id = self._decide(alert)
                if root_id is None:
                    report += self._tally(outcome)
                    continue
                alert = replace(alert, thread_of=root_id)
            report += self._tally(self.deliver(alert))
        return report

    def drain(self, within: timedelta) -> DeliveryReport:
        """Pass after pass until nothing is left to send, or the next attempt is due later than
        ``within`` from now (``once`` uses this so a rate-limited Slack still gets everything)."""
        deadline = self.clock() + within
        report = self.deliver_due()
        while True:
            due = self.store.next_due()
            if due is None or due > deadline:
                return report
            wait = (due - self.clock()).total_seconds()
            if wait > 0:
                self.sleep(min(wait, 5.0))
            report += self.deliver_due()

    def decide_new(self) -> DeliveryReport:
        """Place every undecided alert, oldest first: thread, top level, or suppressed."""
        report = DeliveryReport()
        for alert in self.store.undecided_alerts(self.batch):
            report += self._tally(self._decide(alert)[0])
        return report

    def send_digest(self, period: timedelta = timedelta(hours=24)) -> bool:
        """Post the digest of the last ``period`` to the default channel; False if it failed."""
        now = self.clock()
        since = now - period
        digest = format_digest(self.store.hits_since(since), self.store.feed_health(), since, now)
        if self.default_channel is None and self.channel_required:
            log.error("digest not sent: SANCTIONWATCH_SLACK_CHANNEL is not set")
            return False
        try:
            self.sender.send(digest, self.default_channel or "")
        except DeliveryError as error:
            log.error("digest not sent", extra={"error": error.error})
            return False
        return True

    # one alert ----------------------------------------------------------------------------------

    def _decide(self, alert: Alert) -> tuple[str, int | None]:
        """The outcome, and the alert whose thread this one joins (itself: top level)."""
        channel = alert.channel or self.default_channel
        if channel is None and self.channel_required:
            return self._fail(alert, NO_CHANNEL), None
        routing = self.policy.routing
        if not routing.wanted_hits(alert.hits, channel):
            reason = f"below the minimum severity {routing.minimum_for(channel)} for {channel}"
            self.store.mark_suppressed(alert.id, reason)
            return "suppressed", None
        created = alert.created_at or self.clock()
        same_channel = {alert.channel, channel}
        if channel == self.default_channel:
            same_channel.add(None)
        roots = self.store.thread_roots(
            list(same_channel), created - self.policy.thread_window, alert.id
        )
        root = find_thread_root(alert.story, roots, self.policy.title_similarity)
        if root is None:
            self.store.place_in_thread(alert.id, alert.id)
            return "decided", alert.id
        quiet = routing.quieted_rules(
            routing.wanted_hits(alert.hits, channel), self.store.thread_rules(root.id), created
        )
        if quiet:
            reason = f"quiet window: {', '.join(quiet)} already alerted on this event"
            self.store.mark_suppressed(alert.id, reason)
            return "suppressed", None
        self.store.place_in_thread(alert.id, root.id)
        return "decided", root.id

    def deliver(self, alert: Alert) -> str:
        channel = self._channel(alert)
        now = self.clock()
        thread_ts: str | None = None
        if alert.follow_up and alert.thread_of is not None:
            root = self.store.thread_state(alert.thread_of)
            if root is not None and root.status in {"pending", "sending"}:
                self.store.defer(alert.id, max(root.next_attempt_at, now + self.policy.pace))
                return "deferred"
            if root is not None and root.status == "sent":
                thread_ts = root.slack_ts
        if not self.store.claim(alert.id, now, now + self.policy.lease, thread_ts):
            return "deferred"
        try:
            delivery = self._find_earlier_post(alert, channel, thread_ts)
            if delivery is None:
                wanted = self.policy.routing.wanted_hits(alert.hits, channel) or alert.hits
                message = format_alert(replace(alert, hits=wanted), now)
                self._free_at[channel] = self.clock() + self.policy.pace
                delivery = self.sender.send(message, channel, thread_ts)
        except DeliveryError as error:
            return self._failed_attempt(alert, channel, error)
        self.store.mark_sent(alert.id, delivery, self.clock())
        self.metrics.alerts_sent.inc()
        if alert.created_at is not None:
            latency = (self.clock() - alert.created_at).total_seconds()
            self.metrics.delivery_latency.observe(max(latency, 0.0))
        return "sent"

    def _find_earlier_post(
        self, alert: Alert, channel: str, thread_ts: str | None
    ) -> Delivery | None:
        if alert.status != "sending" or not self.sender.can_look_back:
            return None
        since = (alert.sending_since or alert.created_at or self.clock()) - HISTORY_MARGIN
        found = self.sender.find_delivery(channel, alert.id, since, thread_ts or alert.thread_ts)
        if found is not None:
            log.info("alert was already posted; recorded", extra={"alert": alert.id})
        return found

    def _failed_attempt(self, alert: Alert, channel: str, error: DeliveryError) -> str:
        attempts = alert.attempts + 1
        if error.permanent:
            return self._fail(alert, error.error)
        if attempts >= self.policy.max_attempts:
            return self._fail(alert, f"gave up after {attempts} attempts: {error.error}")
        delay = retry_delay(attempts, error.retry_after, self.policy)
        if error.retry_after is not None:
            self._free_at[channel] = self.clock() + delay
        rate_limited = error.retry_after is not None or error.error in {"ratelimited"}
        self.store.mark_retry(
            alert.id,
            error.error,
            self.clock() + delay,
            maybe_posted=alert.status == "sending" or not rate_limited,
        )
        self.metrics.alerts_retried.inc()
        log.warning(
            "alert delivery will be retried",
            extra={"alert": alert.id, "channel": channel, "error": error.error},
        )
        return "retry"

    def _fail(self, alert: Alert, reason: str) -> str:
        self.store.mark_failed(alert.id, reason)
        self.metrics.alerts_failed.labels(reason[:64]).inc()
        log.error("alert failed", extra={"alert": alert.id, "error": reason})
        return "failed"

    # helpers ------------------------------------------------------------------------------------

    def _channel(self, alert: Alert) -> str:
        return alert.channel or self.default_channel or ""

    def _free_at_for(self, channel: str) -> datetime:
        return self._free_at.get(channel) or datetime.min.replace(tzinfo=self.clock().tzinfo)

    @staticmethod
    def _tally(outcome: str) -> DeliveryReport:
        return DeliveryReport(
            sent=outcome == "sent",
            retrying=outcome == "retry",
            failed=outcome == "failed",
            suppressed=outcome == "suppressed",
        )
