"""Per-feed fetch state and health, read and written for many feeds at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daemon.errors import FeedError
from daemon.models import FetchState
from daemon.store.base import UNHEALTHY_AFTER, FeedHealth, StoreBase
from daemon.store.tables import FeedRow

Backoff = Callable[[int], timedelta]
"""Delay before the next poll, given the number of consecutive failures so far."""

_CHUNK = 500


def chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class FeedState:
    """What polling needs to know about a feed before fetching it."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    last_success_at: datetime | None = None
    moved_to: str | None = None

    @property
    def fetch_state(self) -> FetchState:
        return FetchState(etag=self.etag, last_modified=self.last_modified)

    @property
    def fetch_url(self) -> str:
        """Where to fetch the feed: the URL it moved to for good, else its own."""
        return self.moved_to or self.url

    def deferred_at(self, now: datetime) -> bool:
        """True while a failing feed is backing off (its next poll is still in the future)."""
        return (
            self.consecutive_failures > 0
            and self.next_poll_at is not None
            and now < self.next_poll_at
        )


@dataclass(frozen=True)
class PollRecord:
    """The outcome of one poll to record: ``error`` set for a failure, else a success."""

    url: str
    polled_at: datetime
    next_poll_at: datetime | None = None
    state: FetchState | None = None
    stories_seen: int = 0
    moved_to: str | None = None
    error: FeedError | None = None
    backoff: Backoff | None = None


def _state(row: FeedRow) -> FeedState:
    return FeedState(
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        next_poll_at=row.next_poll_at,
        consecutive_failures=row.consecutive_failures or 0,
        last_success_at=row.last_success_at,
        moved_to=row.moved_to,
    )


def _new_row(url: str, now: datetime) -> FeedRow:
    return FeedRow(url=url, created_at=now, consecutive_failures=0, stories_seen=0)


class FeedStore(StoreBase):
    def feed_states(self, urls: Iterable[str]) -> dict[str, FeedState]:
        """The state of every feed asked for (an empty state for a feed never polled)."""
        wanted = list(dict.fromkeys(urls))
        states = {url: FeedState(url) for url in wanted}
        with self._sessions() as session:
            for part in chunks(wanted):
                for row in session.scalars(select(FeedRow).where(FeedRow.url.in_(part))):
                    states[row.url] = _state(row)
        return states

    def fetch_state(self, feed_url: str) -> FetchState:
        return self.feed_states([feed_url])[feed_url].fetch_state

    def _rows(self, session: Session, urls: Sequence[str], now: datetime) -> dict[str, FeedRow]:
        rows: dict[str, FeedRow] = {}
        for part in chunks(urls):
            rows.update(
                (row.url, row)
                for row in session.scalars(select(FeedRow).where(FeedRow.url.in_(part)))
            )
        for url in urls:
            if url not in rows:
                rows[url] = _new_row(url, now)
                session.add(rows[url])
        return rows

    def sync_feeds(self, feeds: Iterable[tuple[str, str | None]], now: datetime) -> None:
        """Make sure every configured feed has a row (and its current name)."""
        names = dict(feeds)

        def sync(session: Session) -> None:
            rows = self._rows(session, list(names), now)
            for url, name in names.items():
                if rows[url].name != name:
                    rows[url].name = name

        self._retrying(sync)

    def _retrying(self, work: Callable[[Session], None]) -> None:
        """Run ``work`` in a transaction; again if another replica inserted the same feed rows
        at the same moment (replicas starting together)."""
        for attempt in range(3):
            try:
                with self._sessions.begin() as session:
                    work(session)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def schedule_feeds(
        self, feeds: Iterable[tuple[str, str | None, timedelta]], now: datetime
    ) -> None:
        """Make the feed list the schedule: every listed feed gets a row, its name and its
        interval (due at once if never polled); a feed no longer listed loses its interval and is
        no longer claimed (its history stays)."""
        listed = {url: (name, interval) for url, name, interval in feeds}

        def schedule(session: Session) -> None:
            rows = self._rows(session, list(listed), now)
            for url, (name, interval) in listed.items():
                row = rows[url]
                if row.name != name:
                    row.name = name
                if row.interval_seconds != interval.total_seconds():
                    row.interval_seconds = interval.total_seconds()
            scheduled = session.scalars(
                select(FeedRow.url).where(FeedRow.interval_seconds.is_not(None))
            ).all()
            for part in chunks([url for url in scheduled if url not in listed]):
                session.execute(
                    update(FeedRow).where(FeedRow.url.in_(part)).values(interval_seconds=None)
                )

        self._retrying(schedule)

    def claim_feeds(
        self,
        replica_id: str,
        now: datetime,
        limit: int,
        lease: timedelta,
        busy: Sequence[str] = (),
    ) -> list[FeedState]:
        """Claim up to ``limit`` due feeds (next poll reached, not claimed or the claim expired)
        for ``lease``; their states (what polling them needs), most overdue first. ``FOR UPDATE
        SKIP LOCKED`` on PostgreSQL keeps two replicas from claiming one feed (SQLite ignores it:
        one replica there).

        The replica's own claims count as free except on ``busy`` feeds (its polls in flight):
        a claim left behind by a poll that failed is taken again at once, not after the lease."""
        if limit <= 0:
            return []
        own = FeedRow.claimed_by == replica_id
        if busy:
            own = and_(own, FeedRow.url.not_in(list(busy)))
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(FeedRow)
                .where(
                    FeedRow.interval_seconds.is_not(None),
                    or_(FeedRow.next_poll_at.is_(None), FeedRow.next_poll_at <= now),
                    or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now, own),
                )
                .order_by(FeedRow.next_poll_at.asc().nulls_first(), FeedRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.claimed_by, row.lease_until = replica_id, now + lease
            return [_state(row) for row in rows]

    def next_due_at(self, now: datetime) -> datetime | None:
        """When the next unclaimed feed falls due (None: no scheduled feed is free)."""
        with self._sessions() as session:
            due = session.scalar(
                select(func.min(FeedRow.next_poll_at)).where(
                    FeedRow.interval_seconds.is_not(None),
                    or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now),
                )
            )
        return due

    def renew_feed_claims(self, replica_id: str, urls: Sequence[str], until: datetime) -> int:
        """Extend this replica's claims on feeds still being polled (or waiting for a worker)."""
        renewed = 0
        with self._sessions.begin() as session:
            for part in chunks(list(urls)):
                result = session.execute(
                    update(FeedRow)
                    .where(FeedRow.claimed_by == replica_id, FeedRow.url.in_(part))
                    .values(lease_until=until)
                )
                renewed += int(result.rowcount or 0)
        return renewed

    def release_feed_claims(self, replica_id: str, urls: Sequence[str] | None = None) -> None:
        """Give back claims without polling (``urls``; None: every claim of the replica)."""
        with self._sessions.begin() as session:
            mine = update(FeedRow).where(FeedRow.claimed_by == replica_id)
            if urls is None:
                session.execute(mine.values(claimed_by=None, lease_until=None))
                return
            for part in chunks(list(urls)):
                session.execute(
                    mine.where(FeedRow.url.in_(part)).values(claimed_by=None, lease_until=None)
                )

    def record_polls(self, records: Sequence[PollRecord]) -> dict[str, FeedState]:
        """Record many polls in one transaction; returns each feed's state afterwards.

        A success clears the error and stores the new validators, the next poll time, and the
        URL the feed moved to for good (if it did); a failure keeps the validators and schedules
        the next poll after ``backoff(consecutive failures)``.
        """
        if not records:
            return {}
        urls = list(dict.fromkeys(r.url for r in records))
        with self._sessions.begin() as session:
            rows = self._rows(session, urls, records[0].polled_at)
            for record in records:
                row = rows[record.url]
                row.last_polled_at = record.polled_at
                row.claimed_by = row.lease_until = None  # polled: the claim is done
                if record.error is None:
                    _record_success(row, record)
                else:
                    _record_failure(row, record)
            return {url: _state(rows[url]) for url in urls}

    def record_poll_success(
        self,
        feed_url: str,
        state: FetchState,
        now: datetime,
        next_poll_at: datetime,
        stories_seen: int = 0,
    ) -> None:
        self.record_polls([PollRecord(feed_url, now, next_poll_at, state, stories_seen)])

    def record_poll_failure(
        self, feed_url: str, error: FeedError, now: datetime, backoff: Backoff
    ) -> int:
        """Record a failed poll, next poll after ``backoff(consecutive failures)``; returns the
        number of consecutive failures so far."""
        record = PollRecord(feed_url, now, error=error, backoff=backoff)
        return self.record_polls([record])[feed_url].consecutive_failures

    def unhealthy_feeds(self) -> int:
        with self._sessions() as session:
            count = session.scalar(
                select(func.count())
                .select_from(FeedRow)
                .where(FeedRow.consecutive_failures >= UNHEALTHY_AFTER)
            )
            return int(count or 0)

    def feed_health(self) -> tuple[FeedHealth, ...]:
        with self._sessions() as session:
            rows = session.scalars(select(FeedRow).order_by(FeedRow.url)).all()
            return tuple(
                FeedHealth(
                    url=r.url,
                    name=r.name,
                    last_polled_at=r.last_polled_at,
                    last_success_at=r.last_success_at,
                    last_error=r.last_error,
                    last_error_kind=r.last_error_kind,
                    consecutive_failures=r.consecutive_failures or 0,
                    next_poll_at=r.next_poll_at,
                    stories_seen=r.stories_seen or 0,
                    moved_to=r.moved_to,
                )
                for r in rows
            )


def _record_success(row: FeedRow, record: PollRecord) -> None:
    state = record.state or FetchState()
    row.etag, row.last_modified = state.etag, state.last_modified
    row.last_success_at = record.polled_at
    row.consecutive_failures = 0
    row.last_error = row.last_error_kind = None
    row.next_poll_at = record.next_poll_at
    row.stories_seen = (row.stories_seen or 0) + record.stories_seen
    if record.moved_to:
        row.moved_to = None if record.moved_to == row.url else record.moved_to


def _record_failure(row: FeedRow, record: PollRecord) -> None:
    error = record.error
    assert error is not None
    row.last_error = error.detail
    row.last_error_kind = error.kind
    row.consecutive_failures = (row.consecutive_failures or 0) + 1
    delay = record.backoff(row.consecutive_failures) if record.backoff else timedelta(0)
    row.next_poll_at = record.polled_at + delay
