"""The store's public face: everything the pipeline, delivery and CLI need from SQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from daemon.errors import FeedError
from daemon.models import Alert, Delivery, FetchState, Hit, Match, Story
from daemon.store import database
from daemon.store.tables import AlertRow, CycleRow, FeedRow, HitRow, StoryRow, StorySourceRow


@dataclass(frozen=True)
class SavedStory:
    """A story after deduplication: first sighting, or seen before with changed text."""

    story: Story
    is_new: bool
    changed: bool


@dataclass(frozen=True)
class HitRecord:
    story: Story
    hit: Hit
    recorded_at: datetime
    alert_status: str | None


@dataclass(frozen=True)
class FeedHealth:
    url: str
    name: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_kind: str | None
    consecutive_failures: int
    next_poll_at: datetime | None
    stories_seen: int

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


@dataclass(frozen=True)
class CycleReport:
    started_at: datetime
    finished_at: datetime
    feeds_polled: int = 0
    feeds_failed: int = 0
    feeds_unchanged: int = 0
    stories_new: int = 0
    hits_new: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0


@dataclass(frozen=True)
class FailedAlert:
    id: int
    rule_id: str
    channel: str | None
    error: str | None
    story_title: str


@dataclass(frozen=True)
class StatusReport:
    feeds: tuple[FeedHealth, ...]
    outbox: dict[str, int]
    last_cycle: CycleReport | None
    failed_alerts: tuple[FailedAlert, ...]


def _text_hash(story: Story) -> str:
    return hashlib.sha256(
        f"{story.title}\x00{story.summary}\x00{story.content}".encode()
    ).hexdigest()


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str) -> Store:
        """Build an engine and check that the database answers (ConfigError if not)."""
        engine = database.build_engine(url)
        database.check_connection(engine)
        return cls(engine)

    def upgrade(self) -> None:
        database.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # feeds ------------------------------------------------------------------------------------

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

    # stories ----------------------------------------------------------------------------------

    def save_stories(self, stories: Sequence[Story], now: datetime) -> list[SavedStory]:
        """Insert unseen stories, note extra sources, and tell which are new or changed."""
        saved: list[SavedStory] = []
        if not stories:
            return saved
        unique = list({s.id: s for s in stories}.values())
        with self._sessions.begin() as session:
            existing = {
                row.id: row
                for row in session.scalars(
                    select(StoryRow).where(StoryRow.id.in_([s.id for s in unique]))
                )
            }
            known_sources = {
                (story_id, feed_url)
                for story_id, feed_url in session.execute(
                    select(StorySourceRow.story_id, StorySourceRow.feed_url).where(
                        StorySourceRow.story_id.in_([s.id for s in unique])
                    )
                )
            }
            for story in unique:
                digest = _text_hash(story)
                row = existing.get(story.id)
                if row is None:
                    session.add(_story_row(story, digest, now))
                    saved.append(SavedStory(story, is_new=True, changed=False))
                else:
                    changed = row.text_hash != digest
                    if changed:
                        row.title, row.summary, row.content = (
                            story.title,
                            story.summary,
                            story.content,
                        )
                        row.text_hash = digest
                    published = row.published_at or story.published
                    kept = _row_story(row, published)
                    saved.append(SavedStory(kept, is_new=False, changed=changed))
                if (story.id, story.feed_url) not in known_sources:
                    session.add(
                        StorySourceRow(story_id=story.id, feed_url=story.feed_url, seen_at=now)
                    )
                    known_sources.add((story.id, story.feed_url))
            session.flush()
        return saved

    # hits and outbox --------------------------------------------------------------------------

    def record_hits(
        self,
        story: Story,
        hits: Sequence[Hit],
        now: datetime,
        *,
        enqueue: bool,
        default_channel: str | None = None,
    ) -> tuple[int, int]:
        """Store the hits not yet recorded for this story (one per story and rule) and, with
        ``enqueue``, one outbox entry per channel they go to, in the same transaction.
        Returns (new hits, new alerts)."""
        for _attempt in range(3):
            try:
                return self._record_hits(story, hits, now, enqueue, default_channel)
            except IntegrityError:
                continue  # another writer recorded some of these hits first: look again
        return 0, 0

    def _record_hits(
        self,
        story: Story,
        hits: Sequence[Hit],
        now: datetime,
        enqueue: bool,
        default_channel: str | None,
    ) -> tuple[int, int]:
        with self._sessions.begin() as session:
            known = set(session.scalars(select(HitRow.rule_id).where(HitRow.story_id == story.id)))
            fresh = list({h.rule_id: h for h in hits if h.rule_id not in known}.values())
            if not fresh:
                return 0, 0
            alerts: dict[str | None, AlertRow] = {}
            for hit in fresh:
                row = HitRow(
                    story_id=story.id,
                    rule_id=hit.rule_id,
                    rule_title=hit.rule_title,
                    category=hit.category,
                    severity=hit.severity,
                    channel=hit.channel,
                    references=list(hit.references),
                    matches=[_match_json(m) for m in hit.matches],
                    created_at=now,
                )
                if enqueue:
                    channel = hit.channel or default_channel
                    if channel not in alerts:
                        alerts[channel] = AlertRow(
                            story_id=story.id,
                            channel=channel,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                        session.add(alerts[channel])
                        session.flush()
                    row.alert_id = alerts[channel].id
                session.add(row)
            session.flush()
            return len(fresh), len(alerts)

    def due_alerts(self, now: datetime, limit: int = 100) -> list[Alert]:
        with self._sessions() as session:
            rows = session.execute(
                select(AlertRow, StoryRow)
                .join(StoryRow, AlertRow.story_id == StoryRow.id)
                .where(AlertRow.status == "pending", AlertRow.next_attempt_at <= now)
                .order_by(AlertRow.id)
                .limit(limit)
            ).all()
            hits: dict[int, list[Hit]] = {}
            for hit in session.scalars(
                select(HitRow)
                .where(HitRow.alert_id.in_([alert.id for alert, _ in rows]))
                .order_by(HitRow.id)
            ):
                hits.setdefault(hit.alert_id or 0, []).append(_row_hit(hit))
            return [
                Alert(
                    id=alert.id,
                    story=_row_story(story, story.published_at),
                    hits=tuple(hits.get(alert.id, ())),
                    channel=alert.channel,
                    attempts=alert.attempts,
                    thread_ts=alert.thread_ts,
                )
                for alert, story in rows
                if alert.id in hits
            ]

    def mark_sent(self, alert_id: int, delivery: Delivery, now: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(
                    status="sent",
                    attempts=AlertRow.attempts + 1,
                    slack_channel=delivery.channel,
                    slack_ts=delivery.ts,
                    sent_at=now,
                    last_error=None,
                )
            )

    def mark_retry(self, alert_id: int, error: str, next_attempt_at: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(
                    attempts=AlertRow.attempts + 1,
                    last_error=error,
                    next_attempt_at=next_attempt_at,
                )
            )

    def mark_failed(self, alert_id: int, error: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(status="failed", attempts=AlertRow.attempts + 1, last_error=error)
            )

    # reports ----------------------------------------------------------------------------------

    def hits_since(self, since: datetime) -> list[HitRecord]:
        with self._sessions() as session:
            rows = session.execute(
                select(HitRow, StoryRow, AlertRow.status)
                .join(StoryRow, HitRow.story_id == StoryRow.id)
                .outerjoin(AlertRow, HitRow.alert_id == AlertRow.id)
                .where(HitRow.created_at >= since)
                .order_by(HitRow.created_at, HitRow.id)
            ).all()
            return [
                HitRecord(_row_story(s, s.published_at), _row_hit(h), h.created_at, status)
                for h, s, status in rows
            ]

    def record_cycle(self, report: CycleReport) -> None:
        with self._sessions.begin() as session:
            session.add(CycleRow(**report.__dict__))

    def status(self) -> StatusReport:
        with self._sessions() as session:
            outbox = {
                status: count
                for status, count in session.execute(
                    select(AlertRow.status, func.count()).group_by(AlertRow.status)
                )
            }
            cycle = session.scalar(select(CycleRow).order_by(CycleRow.id.desc()).limit(1))
            last_cycle = (
                CycleReport(**{k: getattr(cycle, k) for k in CycleReport.__dataclass_fields__})
                if cycle
                else None
            )
            failed = session.execute(
                select(AlertRow, func.min(HitRow.rule_id), StoryRow.title)
                .join(HitRow, HitRow.alert_id == AlertRow.id)
                .join(StoryRow, AlertRow.story_id == StoryRow.id)
                .group_by(AlertRow.id, StoryRow.title)
                .where(AlertRow.status == "failed")
                .order_by(AlertRow.id.desc())
                .limit(20)
            ).all()
            failed_alerts = tuple(
                FailedAlert(a.id, rule_id, a.channel, a.last_error, title)
                for a, rule_id, title in failed
            )
        for key in ("pending", "sent", "failed"):
            outbox.setdefault(key, 0)
        return StatusReport(self.feed_health(), outbox, last_cycle, failed_alerts)


def _story_row(story: Story, digest: str, now: datetime) -> StoryRow:
    return StoryRow(
        id=story.id,
        feed_url=story.feed_url,
        title=story.title,
        summary=story.summary,
        content=story.content,
        link=story.link,
        guid=story.guid,
        source=story.source,
        language=story.language,
        published_at=story.published,
        first_seen_at=now,
        text_hash=digest,
    )


def _row_story(row: StoryRow, published: datetime | None) -> Story:
    return Story(
        id=row.id,
        feed_url=row.feed_url,
        title=row.title,
        summary=row.summary or "",
        content=row.content or "",
        link=row.link,
        published=published,
        language=row.language,
        guid=row.guid,
        source=row.source,
    )


def _match_json(match: Match) -> dict[str, object]:
    return {
        "group": match.group,
        "term": match.term,
        "text": match.text,
        "field": match.field,
        "start": match.start,
        "end": match.end,
    }


def _row_hit(row: HitRow) -> Hit:
    return Hit(
        rule_id=row.rule_id,
        rule_title=row.rule_title,
        category=row.category,
        severity=row.severity,
        channel=row.channel,
        references=tuple(row.references or ()),
        matches=tuple(Match(**m) for m in row.matches or ()),
    )


def backfill_cutoff(now: datetime, backfill: timedelta) -> datetime:
    return now - backfill
