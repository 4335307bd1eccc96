"""One cycle: fetch → parse → dedupe → (full text) → match → record → enqueue.

Per-feed failures are contained: recorded on the feed, logged, counted, never raised. Fetching
runs in a bounded pool of threads with a per-host limit, parsing in worker processes, and the
store is written by one thread in batches of feeds.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from daemon.errors import FeedError, SanctionwatchError
from daemon.feeds.fetcher import Fetcher
from daemon.feeds.workers import (
    HostLimiter,
    ParsePool,
    RuleSource,
    interleave_by_host,
    matches_in_parsers,
)
from daemon.metrics import Metrics
from daemon.models import FeedSpec, FetchResult, Hit, Story
from daemon.rules import Rulebook
from daemon.store import CycleReport, SavedStory, Store
from daemon.store.base import UNHEALTHY_AFTER
from daemon.store.feeds import FeedState, PollRecord

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

MAX_ARTICLES_PER_POLL = 30
"""Full-text feeds: article pages fetched at most per poll (new stories inside the backfill)."""


@dataclass(frozen=True)
class FeedOutcome:
    """``status``: ok, unchanged (304), failed, or deferred (still backing off; not fetched)."""

    url: str
    status: str
    stories_new: int = 0
    hits_new: int = 0
    alerts_new: int = 0
    error: FeedError | None = None
    next_poll_at: datetime | None = None
    failures: int = 0


@dataclass(frozen=True)
class Polled:
    """One feed fetched and parsed, not yet recorded."""

    feed: FeedSpec
    state: FeedState
    polled_at: datetime
    result: FetchResult | None = None
    stories: tuple[Story, ...] = ()
    error: FeedError | None = None
    hits: dict[str, tuple[Hit, ...]] | None = None
    """Hits by story id when the stories were matched in a parser process."""

    @property
    def first_poll(self) -> bool:
        return self.state.last_success_at is None


@dataclass(eq=False)
class _Pending:
    """A polled feed waiting to be recorded by ``Pipeline._record_together``."""

    polled: Polled
    outcome: FeedOutcome | None = None
    error: BaseException | None = None


def failure_backoff(interval: timedelta, failures: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter for a failing feed, capped at six hours."""
    base = max(interval.total_seconds(), 30.0) * (2 ** min(failures - 1, 8))
    delay = min(base, 6 * 3600.0) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


def poll_jitter(interval: timedelta) -> timedelta:
    """A little extra wait after a successful poll (up to 5% of the interval, at most 30 s), so
    feeds first polled together drift apart; never less than the interval."""
    return timedelta(seconds=random.uniform(0, min(interval.total_seconds() * 0.05, 30.0)))


class Pipeline:
    """Polls feeds: ``run_cycle`` for all at once (``once``), ``poll_feed`` for one (the
    scheduler of ``run``). Call ``close()`` when done: it stops the parser processes.

    With ``rules_path`` (where ``rulebook`` comes from), the parser processes also match the
    stories, reloading the rules whenever ``rulebook()`` returns a new object; without it, or when
    they cannot load the rules, matching happens here.
    """

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        rulebook: Callable[[], Rulebook],
        clock: Clock,
        backfill: timedelta = timedelta(hours=24),
        workers: int = 64,
        default_channel: str | None = None,
        metrics: Metrics | None = None,
        *,
        per_host: int = 8,
        parse_processes: int | None = None,
        batch_size: int = 100,
        flush_after: float = 0.5,
        rules_path: Path | None = None,
        match_in: str = "auto",
    ) -> None:
        self.default_channel = default_channel
        self.metrics = metrics or Metrics()
        self.store = store
        self.fetcher = fetcher
        self.rulebook = rulebook
        self.clock = clock
        self.backfill = backfill
        self.workers = workers
        self.batch_size = batch_size
        self.flush_after = flush_after
        self.hosts = HostLimiter(per_host)
        self.parser = ParsePool(parse_processes)
        self.rules_path = rules_path
        self.match_in = match_in
        self._matching_in_parsers = False
        self.metrics.matching_in_parsers.set(0)
        self._rules_lock = threading.Lock()
        self._rules_seen: object = None
        self._rules_generation = 0
        self._pending: list[_Pending] = []
        self._pending_changed = threading.Condition()
        self._recording = False

    def start(self) -> None:
        """Start the parser processes now instead of on the first feed (optional)."""
        self.parser.start(self._rule_source())

    def close(self) -> None:
        self.parser.close()
        self.fetcher.close()

    def _rule_source(self) -> RuleSource | None:
        """Where the parser processes load the rules from; None while stories are matched in
        this process (see ``matches_in_parsers``)."""
        if self.rules_path is None:
            return None
        current = self.rulebook()
        with self._rules_lock:
            if current is not self._rules_seen:
                self._rules_seen = current
                self._rules_generation += 1
                terms = int(getattr(current, "key_count", 0))
                in_parsers = matches_in_parsers(self.match_in, terms, self.parser.processes)
                if in_parsers != self._matching_in_parsers or self._rules_generation == 1:
                    log.info(
                        "matching stories in %s (%d distinct terms, match_in=%s)",
                        "the parser processes" if in_parsers else "the daemon process",
                        terms,
                        self.match_in,
                    )
                self._matching_in_parsers = in_parsers
                self.metrics.matching_in_parsers.set(int(in_parsers))
            if not self._matching_in_parsers:
                return None
            return RuleSource(str(self.rules_path), self._rules_generation)

    # one feed (the scheduler) ----------------------------------------------------------------

    def poll_feed(self, feed: FeedSpec, state: FeedState | None = None) -> FeedOutcome:
        """Poll one feed unless it is backing off after failures (then ``deferred``). ``state``:
        the feed's state as just read (by the claim of a dispatcher), else it is read here."""
        now = self.clock()
        if state is None:
            state = self.store.feed_states([feed.url])[feed.url]
        if state.deferred_at(now):
            return FeedOutcome(
                feed.url,
                "deferred",
                next_poll_at=state.next_poll_at,
                failures=state.consecutive_failures,
            )
        return self._record_together(self._fetch(feed, state))

    def _record_together(self, polled: Polled) -> FeedOutcome:
        """Record one polled feed together with those other polling threads finished meanwhile
        (group commit): the first waiting thread records every queued feed, up to
        ``batch_size``, in one batch while the others wait for their outcome. Nothing waits on
        purpose, so a lone poll is recorded at once."""
        mine = _Pending(polled)
        with self._pending_changed:
            self._pending.append(mine)
            while mine.outcome is None and mine.error is None:
                if self._recording:
                    self._pending_changed.wait()
                    continue
                batch = self._pending[: self.batch_size]
                del self._pending[: self.batch_size]
                self._recording = True
                self._pending_changed.release()
                try:
                    outcomes: list[FeedOutcome] = self._record([p.polled for p in batch])
                except BaseException as exc:
                    for pending in batch:
                        pending.error = exc
                else:
                    for pending, outcome in zip(batch, outcomes, strict=True):
                        pending.outcome = outcome
                finally:
                    self._pending_changed.acquire()
                    self._recording = False
                    self._pending_changed.notify_all()
        if mine.error is not None:
            raise mine.error
        assert mine.outcome is not None
        return mine.outcome

    # every feed (a cycle) ---------------------------------------------------------------------

    def run_cycle(self, feeds: Sequence[FeedSpec]) -> tuple[CycleReport, list[FeedOutcome]]:
        started = self.clock()
        states = self.store.feed_states(f.url for f in feeds)
        done: queue.SimpleQueue[Polled] = queue.SimpleQueue()
        outcomes: dict[str, FeedOutcome] = {}

        def fetch(feed: FeedSpec) -> None:
            done.put(self._fetch(feed, states[feed.url]))

        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(feeds)))) as pool:
            for feed in interleave_by_host(feeds):
                pool.submit(fetch, feed)
            for batch in self._batches(done, len(feeds)):
                outcomes.update((o.url, o) for o in self._record(batch))
        ordered = [outcomes[f.url] for f in feeds]
        self.metrics.feeds_unhealthy.set(self.store.unhealthy_feeds())
        report = CycleReport(
            started_at=started,
            finished_at=self.clock(),
            feeds_polled=len(ordered),
            feeds_failed=sum(o.status == "failed" for o in ordered),
            feeds_unchanged=sum(o.status == "unchanged" for o in ordered),
            stories_new=sum(o.stories_new for o in ordered),
            hits_new=sum(o.hits_new for o in ordered),
        )
        return report, ordered

    def _batches(self, done: queue.SimpleQueue[Polled], count: int) -> Iterator[list[Polled]]:
        """The ``count`` polled feeds in batches: full ones, or what arrived within
        ``flush_after`` seconds of the first feed of a batch (so slow feeds delay no one)."""
        batch: list[Polled] = []
        flush_at = 0.0
        while count:
            wait = max(0.0, flush_at - time.monotonic()) if batch else None
            try:
                batch.append(done.get(timeout=wait))
                count -= 1
                if len(batch) == 1:
                    flush_at = time.monotonic() + self.flush_after
            except queue.Empty:
                pass
            if batch and (len(batch) >= self.batch_size or not count or wait == 0.0):
                yield batch
                batch = []

    # fetch and parse: polling threads ---------------------------------------------------------

    def _fetch(self, feed: FeedSpec, state: FeedState) -> Polled:
        """Fetch and parse one feed; never raises. The poll's time is when the answer came: the
        next poll counts from it, so requests to a feed stay an interval apart however late one
        left."""
        now = self.clock()
        try:
            with self.hosts.slot(state.fetch_url):
                try:
                    result = self.fetcher.fetch(state.fetch_url, state.fetch_state)
                finally:
                    now = self.clock()
            if result.not_modified:
                return Polled(feed, state, now, result)
            parsed = self.parser.parse(result, feed.url, now, self._rule_source())
            stories, hits = parsed.stories, parsed.hits
            if feed.fulltext:
                stories = self._with_full_text(stories, now)
                if hits is not None:
                    kept = {a.id for a, b in zip(parsed.stories, stories, strict=True) if a is b}
                    hits = {i: h for i, h in hits.items() if i in kept}
            return Polled(feed, state, now, result, tuple(stories), hits=hits)
        except FeedError as error:
            return Polled(feed, state, now, error=error)
        except Exception as exc:  # a bug in one feed's handling must not stop the others
            log.exception("feed %s: unexpected error", feed.url)
            return Polled(feed, state, now, error=FeedError(feed.url, "internal", repr(exc)))

    def _with_full_text(self, stories: Sequence[Story], now: datetime) -> list[Story]:
        """New stories recent enough to alert get the text of their article page."""
        cutoff = now - self.backfill
        candidates = [s for s in stories if s.link and (s.published or now) >= cutoff]
        known = self.store.known_story_ids(s.id for s in candidates)
        wanted = [s for s in candidates if s.id not in known][:MAX_ARTICLES_PER_POLL]
        texts: dict[str, str] = {}
        for story in wanted:
            link = story.link or ""
            try:
                with self.hosts.slot(link):
                    texts[story.id] = self.fetcher.fetch_article(link)
            except SanctionwatchError as error:
                log.info("full text unavailable for %s: %s", link, error)
        return [replace(s, content=texts[s.id]) if texts.get(s.id) else s for s in stories]

    # record: one thread, a batch of feeds at a time -------------------------------------------

    def _record(self, batch: Sequence[Polled]) -> list[FeedOutcome]:
        if not batch:
            return []
        now = self.clock()
        fetched = [p for p in batch if p.error is None and p.stories]
        saved = self.store.save_stories([s for p in fetched for s in p.stories], now)
        by_feed = {p.feed.url: p for p in batch}
        found = self._match(saved, by_feed, now)
        new_ids = {entry.story.id for entry in saved if entry.is_new}
        fresh = {p.feed.url: sum(s.id in new_ids for s in p.stories) for p in batch}
        records = [self._poll_record(p, fresh[p.feed.url]) for p in batch]
        states = self.store.record_polls(records)
        outcomes = [
            self._outcome(
                polled,
                states[polled.feed.url],
                (fresh[polled.feed.url], *found.get(polled.feed.url, (0, 0))),
            )
            for polled in batch
        ]
        if any(
            max(p.state.consecutive_failures, states[p.feed.url].consecutive_failures)
            >= UNHEALTHY_AFTER
            for p in batch
        ):  # a feed's health may have changed; else the heartbeat keeps the gauge current
            self.metrics.feeds_unhealthy.set(self.store.unhealthy_feeds())
        return outcomes

    def _match(
        self, saved: Sequence[SavedStory], by_feed: dict[str, Polled], now: datetime
    ) -> dict[str, tuple[int, int]]:
        """Match new and changed stories (a story seen in several feeds of the batch once) and
        record the hits; per feed: (new hits, new alerts)."""
        rulebook = self.rulebook()
        counts: dict[str, tuple[int, int]] = {}
        for entry in saved:
            story = entry.story
            if not (entry.is_new or entry.changed):
                continue
            hits_new, alerts_new = counts.get(story.feed_url, (0, 0))
            polled = by_feed.get(story.feed_url)
            matched = polled.hits if polled is not None and polled.hits is not None else {}
            try:
                hits = matched[story.id] if story.id in matched else rulebook.match(story)
            except Exception:
                log.exception("matching story %s failed", story.id)
                continue
            if not hits:
                continue
            alerting = [h for h in hits if h.alerts]
            quiet = [h for h in hits if not h.alerts]
            for hit in hits:
                self.metrics.hits.labels(hit.rule_id, hit.category).inc()
            for group, enqueue in ((alerting, self._may_alert(story, polled, now)), (quiet, False)):
                if group:
                    new_hits, new_alerts = self.store.record_hits(
                        story, group, now, enqueue=enqueue, default_channel=self.default_channel
                    )
                    hits_new += new_hits
                    alerts_new += new_alerts
            counts[story.feed_url] = (hits_new, alerts_new)
        return counts

    def _may_alert(self, story: Story, polled: Polled | None, now: datetime) -> bool:
        """Only stories published inside the backfill window alert; older ones are recorded
        quietly. On a feed's first poll a story without a date is not known to be recent."""
        if polled is not None and polled.first_poll and story.undated:
            return False
        reference = polled.polled_at if polled is not None else now
        return (story.published or reference) >= reference - self.backfill

    def _poll_record(self, polled: Polled, stories_new: int) -> PollRecord:
        feed, error = polled.feed, polled.error
        if error is not None:
            return PollRecord(
                feed.url,
                polled.polled_at,
                error=error,
                backoff=lambda count: failure_backoff(feed.interval, count, error.retry_after),
            )
        result = polled.result
        assert result is not None
        return PollRecord(
            feed.url,
            polled.polled_at,
            next_poll_at=polled.polled_at + feed.interval + poll_jitter(feed.interval),
            state=result.state,
            stories_seen=stories_new,
            moved_to=result.permanent_url,
        )

    def _outcome(
        self, polled: Polled, state: FeedState, counts: tuple[int, int, int]
    ) -> FeedOutcome:
        feed, error = polled.feed, polled.error
        count = state.consecutive_failures
        if error is not None:
            log.warning(
                "feed failed",
                extra={
                    "feed": feed.name or feed.url,
                    "url": feed.url,
                    "kind": error.kind,
                    "error": error.detail,
                    "failures": count,
                },
            )
            outcome = FeedOutcome(
                feed.url, "failed", error=error, next_poll_at=state.next_poll_at, failures=count
            )
        else:
            status = "unchanged" if polled.result and polled.result.not_modified else "ok"
            outcome = FeedOutcome(feed.url, status, *counts, next_poll_at=state.next_poll_at)
        self.metrics.feed_polled(outcome.status, error.kind if error else None)
        self.metrics.stories_new.inc(outcome.stories_new)
        return outcome
