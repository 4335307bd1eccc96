"""Per-feed fetch state and health."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.errors import FeedError
from daemon.models import FetchState
from daemon.store.base import FeedHealth, StoreBase
from daemon.store.tables import FeedRow


class FeedStore(StoreBase):
    def fetch_state(self, feed_url: str) -> FetchState:
        with self._sessions() as session:
            row = session.scalar(select(FeedRow).where(FeedRow.url == feed_url))
            if row is None:
                return FetchState()
            return FetchState(etag=row.etag, last_modified=row.last_modified)

    def _feed_row(self, session: Session, feed_url: str, now: datetime) -> FeedRow:
        row = session.scalar(select(FeedRow).where(FeedRow.url == feed_url))
        if row is None:
            row = FeedRow(url=feed_url, created_at=now, consecutive_failures=0, stories_seen=0)
            session.add(row)
            session.flush()
        return row

    def sync_feeds(self, feeds: Iterable[tuple[str, str | None]], now: datetime) -> None:
        """Make sure every configured feed has a row (and its current name)."""
        with self._sessions.begin() as session:
            for url, name in feeds:
                row = self._feed_row(session, url, now)
                row.name = name

    def record_poll_success(
        self,
        feed_url: str,
        state: FetchState,
        now: datetime,
        next_poll_at: datetime,
        stories_seen: int = 0,
    ) -> None:
        with self._sessions.begin() as session:
            row = self._feed_row(session, feed_url, now)
            row.etag, row.last_modified = state.etag, state.last_modified
            row.last_polled_at = row.last_success_at = now
            row.consecutive_failures = 0
            row.last_error = row.last_error_kind = None
            row.next_poll_at = next_poll_at
            row.stories_seen = (row.stories_seen or 0) + stories_seen

    def record_poll_failure(
        self, feed_url: str, error: FeedError, now: datetime, backoff: Callable[[int], timedelta]
    ) -> int:
        """Record a failed poll, next poll after ``backoff(consecutive failures)``; returns the
        number of consecutive failures so far."""
        with self._sessions.begin() as session:
            row = self._feed_row(session, feed_url, now)
            row.last_polled_at = now
            row.last_error = error.detail
            row.last_error_kind = error.kind
            row.consecutive_failures = (row.consecutive_failures or 0) + 1
            row.next_poll_at = now + backoff(row.consecutive_failures)
            return row.consecutive_failures

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
                )
                for r in rows
            )
