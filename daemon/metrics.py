"""Prometheus metrics, all named ``sanctionwatch_*``. The only prometheus_client importer."""

from __future__ import annotations

import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()


class Metrics:
    """One registry per process (or per test); every stage records through these methods."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._lock = threading.Lock()
        self._polls = 0
        self._unchanged = 0
        self.feed_polls = Counter(
            "sanctionwatch_feed_polls", "Feed polls by outcome", ["outcome"], registry=r
        )
        self.fetch_errors = Counter(
            "sanctionwatch_fetch_errors", "Failed feed polls by kind of error", ["kind"], registry=r
        )
        self.not_modified_ratio = Gauge(
            "sanctionwatch_feed_not_modified_ratio",
            "Share of successful polls answered 304 Not Modified since start",
            registry=r,
        )
        self.feeds_unhealthy = Gauge(
            "sanctionwatch_feeds_unhealthy",
            "Feeds that failed three or more polls in a row",
            registry=r,
        )
        self.matching_in_parsers = Gauge(
            "sanctionwatch_matching_in_parsers",
            "1 while stories are matched in the parser processes (a copy of the rules in each), "
            "0 while in the daemon process",
            registry=r,
        )
        self.stories_new = Counter(
            "sanctionwatch_stories_new", "Stories seen for the first time", registry=r
        )
        self.hits = Counter(
            "sanctionwatch_hits", "Rule hits recorded", ["rule", "category"], registry=r
        )
        self.alerts_sent = Counter("sanctionwatch_alerts_sent", "Alerts delivered", registry=r)
        self.alerts_failed = Counter(
            "sanctionwatch_alerts_failed", "Alerts given up on", ["reason"], registry=r
        )
        self.alerts_retried = Counter(
            "sanctionwatch_alerts_retried", "Delivery attempts to be retried", registry=r
        )
        self.alerts_pending = Gauge(
            "sanctionwatch_alerts_pending", "Alerts waiting in the outbox", registry=r
        )
        self.delivery_latency = Histogram(
            "sanctionwatch_alert_delivery_latency_seconds",
            "From the hit being recorded to Slack accepting the alert",
            buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.cycle_duration = Histogram(
            "sanctionwatch_cycle_duration_seconds",
            "Duration of a full polling cycle, or of one feed's poll in the daemon",
            ["scope"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.rules_loaded = Gauge(
            "sanctionwatch_rules_loaded", "Rules currently loaded", registry=r
        )
        self.rule_load_errors = Counter(
            "sanctionwatch_rule_load_errors", "Rule reloads refused because of errors", registry=r
        )
        self.job_errors = Counter(
            "sanctionwatch_job_errors", "Scheduled jobs that raised an error", ["job"], registry=r
        )
        self.last_cycle = Gauge(
            "sanctionwatch_last_poll_timestamp_seconds", "When a feed was last polled", registry=r
        )

    def feed_polled(self, outcome: str, error_kind: str | None = None) -> None:
        self.feed_polls.labels(outcome).inc()
        if error_kind:
            self.fetch_errors.labels(error_kind).inc()
        with self._lock:
            if outcome != "failed":
                self._polls += 1
                self._unchanged += outcome == "unchanged"
            if self._polls:
                self.not_modified_ratio.set(self._unchanged / self._polls)
        self.last_cycle.set_to_current_time()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
