"""Which feeds this replica polls: due feeds claimed from the database, polled on a bounded pool.

Several replicas share one schedule, the feeds table: each feed's next poll time, interval and
claim. A dispatcher tick (every second, from the scheduler) claims due feeds in batches, up to the
number of idle workers plus a short queue (half a batch, at most half the workers), so that one
claim serves several feeds, and waits within the tick for the next feed to fall due, so that a
feed is polled when due rather than at the next tick; a worker polls one feed with the state
read by the claim, and
recording the poll sets the next poll time and clears the claim. Claims of polls still running or
queued are renewed, so a claim lapses only when its replica is gone (killed, partitioned): then
another replica claims the feed once the lease has ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from daemon.models import FeedSpec
from daemon.store import Store
from daemon.store.feeds import FeedState

log = logging.getLogger(__name__)

TICK_SECONDS = 0.9
"""How long one tick keeps claiming while workers free up (the tick runs every second)."""
MIN_WAIT_SECONDS = 0.05
"""The shortest wait for a feed falling due: one due but not claimable (another replica holds
its row) must not make the tick spin."""


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        poll: Callable[[FeedSpec, FeedState], object],
        replica_id: str,
        clock: Callable[[], datetime],
        batch: int = 50,
        lease: timedelta = timedelta(seconds=60),
        workers: int = 32,
    ) -> None:
        self.store = store
        self.poll = poll
        self.replica_id = replica_id
        self.clock = clock
        self.batch = max(1, batch)
        self.lease = lease
        self.workers = max(1, workers)
        self._queued = min(self.batch, self.workers) // 2
        """Claimed feeds that may wait for a worker, so claims come in batches: a claim is made
        once ``_claim_at`` workers (or queue places) are free, not for every worker that frees
        up (one query per feed)."""
        self._claim_at = max(1, self._queued)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="poll")
        self._feeds: dict[str, FeedSpec] = {}
        self._busy: set[str] = set()
        self._changed = threading.Condition()
        self._renewed_at = time.monotonic()
        self._closed = False

    def set_feeds(self, feeds: Sequence[FeedSpec]) -> None:
        with self._changed:
            self._feeds = {feed.url: feed for feed in feeds}

    @property
    def busy(self) -> int:
        with self._changed:
            return len(self._busy)

    def tick(self) -> int:
        """Claim and start due feeds while workers are idle, for up to ``TICK_SECONDS``;
        returns how many polls were started."""
        deadline = time.monotonic() + TICK_SECONDS
        self._renew()
        started = 0
        while not self._closed:
            with self._changed:
                free = self.workers + self._queued - len(self._busy)
                if free < self._claim_at:
                    self._changed.wait(max(0.0, deadline - time.monotonic()))
                    if time.monotonic() >= deadline:
                        break
                    continue
                busy = list(self._busy)
            wanted = min(self.batch, free)
            claimed = self.store.claim_feeds(
                self.replica_id, self.clock(), wanted, self.lease, busy=busy
            )
            started += self._start(claimed)
            if time.monotonic() >= deadline:
                break
            if len(claimed) < wanted and not self._wait_for_next_due(deadline):
                break
        return started

    def _wait_for_next_due(self, deadline: float) -> bool:
        """Wait for the next feed to fall due if that is before ``deadline`` (so a feed is
        polled when due, not at the next tick); False if it is not."""
        now = self.clock()
        due = self.store.next_due_at(now)
        if due is None:
            return False
        wait = max(MIN_WAIT_SECONDS, (due - now).total_seconds())
        if time.monotonic() + wait >= deadline:
            return False
        with self._changed:
            self._changed.wait(wait)
        return not self._closed

    def _start(self, claimed: Sequence[FeedState]) -> int:
        unknown: list[str] = []
        started = 0
        for state in claimed:
            with self._changed:
                feed = self._feeds.get(state.url)
                if feed is None or self._closed:
                    unknown.append(state.url)
                    continue
                self._busy.add(state.url)
            self._pool.submit(self._run, feed, state)
            started += 1
        if unknown:  # listed by another replica's feed list, or a stop: leave it to others
            self.store.release_feed_claims(self.replica_id, unknown)
        return started

    def _run(self, feed: FeedSpec, state: FeedState) -> None:
        try:
            self.poll(feed, state)
        finally:
            with self._changed:
                self._busy.discard(feed.url)
                self._changed.notify_all()

    def _renew(self) -> None:
        """Extend the claims of polls still running, a third of a lease at a time."""
        if time.monotonic() - self._renewed_at < self.lease.total_seconds() / 3:
            return
        self._renewed_at = time.monotonic()
        with self._changed:
            busy = list(self._busy)
        if busy:
            self.store.renew_feed_claims(self.replica_id, busy, self.clock() + self.lease)

    def close(self, wait: bool = True) -> None:
        """Start no more polls; let running ones finish (``wait``)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def release(self) -> None:
        """Give back this replica's claims (after ``close``), so others poll those feeds now."""
        self.store.release_feed_claims(self.replica_id)
