"""The dispatcher polls claimed feeds with the state the claim read: conditional GET, the URL a
feed moved to, and backoff after failures all hold without a read of their own per poll."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedserver import FeedServer, http_date
from polling_support import Clock, Item, real_pipeline, rss, write_rules

from daemon.dispatcher import Dispatcher
from daemon.models import FeedSpec, FetchState
from daemon.pipeline import Pipeline
from daemon.store import Store
from daemon.store.feeds import FeedState

BLAND = "Markets were calm on Tuesday"
LEASE = timedelta(seconds=60)


def test_claim_returns_the_state_polling_needs(database_url: str) -> None:
    clock = Clock()
    store = Store.connect(database_url)
    try:
        store.upgrade()
        urls = [f"https://feeds.example/{n}.xml" for n in range(3)]
        store.schedule_feeds(((url, None, timedelta(minutes=1)) for url in urls), clock.now)
        store.record_poll_success(
            urls[0], FetchState('"v7"', "Tue, 20 Feb 2024 11:00:00 GMT"), clock.now, clock.now
        )
        claimed = {state.url: state for state in store.claim_feeds("r", clock.now, 10, LEASE)}

        assert set(claimed) == set(urls)
        assert claimed[urls[0]].fetch_state == FetchState('"v7"', "Tue, 20 Feb 2024 11:00:00 GMT")
        assert claimed[urls[0]].last_success_at == clock.now
        assert claimed[urls[1]] == FeedState(urls[1])
        assert store.claim_feeds("other", clock.now, 10, LEASE) == []  # the claim was made
    finally:
        store.close()


@contextmanager
def dispatching(pipeline: Pipeline, feeds: list[FeedSpec], clock: Clock) -> Iterator[Dispatcher]:
    pipeline.store.schedule_feeds(((f.url, f.name, f.interval) for f in feeds), clock.now)
    dispatcher = Dispatcher(
        store=pipeline.store, poll=pipeline.poll_feed, replica_id="r", clock=clock, workers=4
    )
    dispatcher.set_feeds(feeds)
    try:
        yield dispatcher
    finally:
        dispatcher.close()


def tick(dispatcher: Dispatcher) -> int:
    """One tick, then wait until the polls it started are recorded; how many it started."""
    started = dispatcher.tick()
    deadline = time.monotonic() + 20
    while dispatcher.busy and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dispatcher.busy == 0
    return started


def test_dispatched_polls_are_conditional_follow_moves_and_back_off(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    modified = http_date(time.time() - 3600)
    body = rss([Item(BLAND, "https://news.example/a")])
    wire = FeedSpec(
        feed_server.serve("/wire.xml", body, etag='"v1"', last_modified=modified),
        interval=timedelta(minutes=1),
    )
    feed_server.serve("/new.xml", rss([Item(BLAND, "https://news.example/m")]))
    moving = FeedSpec(
        feed_server.redirect("/old.xml", "/new.xml", status=301), interval=timedelta(minutes=1)
    )
    flaky = FeedSpec(
        feed_server.serve("/flaky.xml", b"oops", status=500), interval=timedelta(minutes=5)
    )
    with (
        real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline,
        dispatching(pipeline, [wire, moving, flaky], clock) as dispatcher,
    ):
        assert tick(dispatcher) == 3
        (failing,) = [h for h in pipeline.store.feed_health() if h.url == flaky.url]
        assert failing.consecutive_failures == 1 and failing.next_poll_at is not None
        backoff_ends = failing.next_poll_at

        clock.advance(timedelta(minutes=2))
        assert clock.now < backoff_ends
        assert tick(dispatcher) == 2  # the failing feed waits out its backoff
        assert len(feed_server.requests_for("/flaky.xml")) == 1

        clock.now = backoff_ends
        feed_server.serve("/flaky.xml", rss([Item(BLAND, "https://news.example/f")]))
        assert tick(dispatcher) == 3
        health = {h.url: h for h in pipeline.store.feed_health()}

    first, conditional, again = feed_server.requests_for("/wire.xml")
    assert first.header("if-none-match") is None
    assert conditional.header("if-none-match") == again.header("if-none-match") == '"v1"'
    assert conditional.header("if-modified-since") == modified
    assert len(feed_server.requests_for("/old.xml")) == 1
    assert len(feed_server.requests_for("/new.xml")) == 3
    assert len(feed_server.requests_for("/flaky.xml")) == 2
    assert health[flaky.url].healthy and health[flaky.url].consecutive_failures == 0


def test_poll_feed_uses_a_given_state_and_reads_the_store_without_one(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    clock = Clock()
    url = feed_server.serve("/wire.xml", rss([Item(BLAND, "https://news.example/a")]), etag='"v2"')
    feed = FeedSpec(url)
    backing_off = FeedState(url, consecutive_failures=2, next_poll_at=clock.now + LEASE)
    with real_pipeline(sqlite_url, write_rules(tmp_path), clock) as pipeline:
        deferred = pipeline.poll_feed(feed, backing_off)
        assert (deferred.status, deferred.failures) == ("deferred", 2)
        assert feed_server.requests_for("/wire.xml") == []

        assert pipeline.poll_feed(feed, FeedState(url, etag='"v1"')).status == "ok"
        assert pipeline.poll_feed(feed).status == "unchanged"  # "v2", recorded by the first poll
    given, stored = feed_server.requests_for("/wire.xml")
    assert given.header("if-none-match") == '"v1"'
    assert stored.header("if-none-match") == '"v2"'


def test_a_feed_falling_due_during_a_tick_is_polled_in_that_tick(database_url: str) -> None:
    store = Store.connect(database_url)
    polled: list[tuple[str, datetime]] = []
    dispatcher = Dispatcher(
        store=store,
        poll=lambda feed, state: polled.append((feed.url, datetime.now(UTC))),
        replica_id="r",
        clock=lambda: datetime.now(UTC),
        workers=4,
    )
    try:
        store.upgrade()
        now = datetime.now(UTC)
        due = now + timedelta(seconds=0.4)
        feeds = [FeedSpec(f"https://feeds.example/{n}.xml") for n in range(2)]
        store.schedule_feeds(((f.url, None, timedelta(minutes=1)) for f in feeds), now)
        for feed in feeds:
            store.record_poll_success(feed.url, FetchState(), now, due)
        store.record_poll_success("https://feeds.example/later.xml", FetchState(), now, due)
        assert store.next_due_at(now) == due
        dispatcher.set_feeds(feeds)
        started = dispatcher.tick()
        give_up = time.monotonic() + 5
        while dispatcher.busy and time.monotonic() < give_up:
            time.sleep(0.01)
    finally:
        dispatcher.close()
        store.close()
    assert started == 2
    assert sorted(url for url, _ in polled) == [f.url for f in feeds]
    assert all(at >= due for _, at in polled)
