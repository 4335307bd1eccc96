"""Shared pieces of the store: the session factory, report dataclasses, row conversions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from daemon.models import Hit, Match, Story
from daemon.store.tables import HitRow, StoryRow


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


UNHEALTHY_AFTER = 3
"""Consecutive failed polls after which a feed is reported unhealthy."""


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
    moved_to: str | None = None

    @property
    def healthy(self) -> bool:
        """False once the feed has failed ``UNHEALTHY_AFTER`` polls in a row."""
        return self.consecutive_failures < UNHEALTHY_AFTER


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
    replicas: tuple[Any, ...] = ()


def text_hash(story: Story) -> str:
    return hashlib.sha256(
        f"{story.title}\x00{story.summary}\x00{story.content}".encode()
    ).hexdigest()


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)


def story_row(story: Story, digest: str, now: datetime) -> StoryRow:
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


def row_story(row: StoryRow, published: datetime | None) -> Story:
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


def match_json(match: Match) -> dict[str, object]:
    return {
        "group": match.group,
        "term": match.term,
        "text": match.text,
        "field": match.field,
        "start": match.start,
        "end": match.end,
    }


def row_hit(row: HitRow) -> Hit:
    return Hit(
        rule_id=row.rule_id,
        rule_title=row.rule_title,
        category=row.category,
        severity=row.severity,
        channel=row.channel,
        references=tuple(row.references or ()),
        matches=tuple(Match(**m) for m in row.matches or ()),
    )
