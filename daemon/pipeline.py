"""One cycle: fetch → parse → dedupe → (full text) → match → record → enqueue.

Per-feed failures are contained: recorded on the feed, logged once, counted, never raised.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from daemon.errors import FeedError, SanctionwatchError
from daemon.feeds.fetcher import Fetcher
from daemon.feeds.parser import parse_feed
from daemon.metrics import Metrics
from daemon.models import FeedSpec, Story
from daemon.rules import Rulebook
from daemon.store import CycleReport, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class FeedOutcome:
    url: str
    status: str
    stories_new: int = 0
    hits_new: int = 0
    alerts_new: int = 0
    error: FeedError | None = None


def failure_backoff(interval: timedelta, failures: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter for a failing feed, capped at six hours."""
    base = max(interval.total_seconds(), 30.0) * (2 ** min(failures - 1, 8))
    delay = min(base, 6 * 3600.0) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


class Pipeline:
    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        rulebook: Callable[[], Rulebook],
        clock: Clock,
        backfill: timedelta = timedelta(hours=24),
        workers: int = 8,
        default_channel: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.default_channel = default_channel
        self.metrics = metrics or Metrics()
        self.store = store
        self.fetcher = fetcher
        self.rulebook = rulebook
        self.clock = clock
        self.backfill = backfill
        self.workers = workers

    def poll_feed(self, feed: FeedSpec) -> FeedOutcome:
        outcome = self._poll_feed(feed)
        self.metrics.feed_polled(outcome.status, outcome.error.kind if outcome.error else None)
        self.metrics.stories_new.inc(outcome.stories_new)
        return outcome

    def _poll_feed(self, feed: FeedSpec) -> FeedOutcome:
        now = self.clock()
        try:
            result = self.fetcher.fetch(feed.url, self.store.fetch_state(feed.url))
            if result.not_modified:
                self.store.record_poll_success(feed.url, result.state, now, now + feed.interval)
                return FeedOutcome(feed.url, "unchanged")
            stories = parse_feed(result, feed.url, now)
        except FeedError as error:
            return self._failed(feed, error, now)
        except Exception as exc:  # a bug in one feed's handling must not stop the cycle
            log.exception("feed %s: unexpected error", feed.url)
            return self._failed(feed, FeedError(feed.url, "internal", repr(exc)), now)
        outcome = self._process_stories(feed, stories, now)
        self.store.record_poll_success(
            feed.url, result.state, now, now + feed.interval, outcome.stories_new
        )
        return outcome

    def _failed(self, feed: FeedSpec, error: FeedError, now: datetime) -> FeedOutcome:
        failures = self.store.record_poll_failure(
            feed.url,
            error,
            now,
            lambda count: failure_backoff(feed.interval, count, error.retry_after),
        )
        log.warning(
            "feed failed",
            extra={
                "feed": feed.name or feed.url,
                "url": feed.url,
                "kind": error.kind,
                "error": error.detail,
                "failures": failures,
            },
        )
        return FeedOutcome(feed.url, "failed", error=error)

    def _process_stories(
        self, feed: FeedSpec, stories: Sequence[Story], now: datetime
    ) -> FeedOutcome:
        saved = self.store.save_stories(stories, now)
        rulebook = self.rulebook()
        cutoff = now - self.backfill
        hits_new = alerts_new = stories_new = 0
        for entry in saved:
            stories_new += entry.is_new
            if not (entry.is_new or entry.changed):
                continue
            story = entry.story
            if feed.fulltext and entry.is_new and story.link:
                story = self._with_full_text(story)
            hits = rulebook.match(story)
            if not hits:
                continue
            recent = (story.published or now) >= cutoff
            alerting = [h for h in hits if h.alerts]
            quiet = [h for h in hits if not h.alerts]
            for hit in hits:
                self.metrics.hits.labels(hit.rule_id, hit.category).inc()
            for group, enqueue in ((alerting, recent), (quiet, False)):
                if group:
                    new_hits, new_alerts = self.store.record_hits(
                        story, group, now, enqueue=enqueue, default_channel=self.default_channel
                    )
                    hits_new += new_hits
                    alerts_new += new_alerts
        return FeedOutcome(feed.url, "ok", stories_new, hits_new, alerts_new)

    def _with_full_text(self, story: Story) -> Story:
        try:
            text = self.fetcher.fetch_article(story.link or "")
        except SanctionwatchError as error:
            log.info("full text unavailable for %s: %s", story.link, error)
            return story
        return replace(story, content=text) if text else story

    def run_cycle(self, feeds: Sequence[FeedSpec]) -> tuple[CycleReport, list[FeedOutcome]]:
        started = self.clock()
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(feeds) or 1))) as pool:
            outcomes = list(pool.map(self.poll_feed, feeds))
        report = CycleReport(
            started_at=started,
            finished_at=self.clock(),
            feeds_polled=len(outcomes),
            feeds_failed=sum(o.status == "failed" for o in outcomes),
            feeds_unchanged=sum(o.status == "unchanged" for o in outcomes),
            stories_new=sum(o.stories_new for o in outcomes),
            hits_new=sum(o.hits_new for o in outcomes),
        )
        return report, outcomes
