"""Stories (deduplicated across feeds and polls) and the hits recorded on them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daemon.models import Hit, Story
from daemon.store.base import (
    HitRecord,
    SavedStory,
    StoreBase,
    match_json,
    row_hit,
    row_story,
)
from daemon.store.feeds import chunks
from daemon.store.tables import AlertRow, HitRow, StoryRow, StorySourceRow

_STORIES = StoryRow.__table__
_SOURCES = StorySourceRow.__table__


def story_digest(story: Story) -> str:
    """What counts as a change of a story: its title or summary (full text fetched for a story
    is not compared, so it cannot make every later poll look like an edit)."""
    return hashlib.sha256(f"{story.title}\x00{story.summary}".encode()).hexdigest()


def _fit(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


def _insert_values(story: Story, now: datetime) -> dict[str, Any]:
    return {
        "id": story.id,
        "feed_url": story.feed_url[:2048],
        "title": story.title,
        "summary": story.summary,
        "content": story.content,
        "link": _fit(story.link, 2048),
        "guid": _fit(story.guid, 2048),
        "source": _fit(story.source, 512),
        "language": _fit(story.language, 16),
        "published_at": story.published or now,
        "first_seen_at": now,
        "text_hash": story_digest(story),
    }


class StoryStore(StoreBase):
    def known_story_ids(self, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        known: set[str] = set()
        with self._sessions() as session:
            for part in chunks(wanted):
                known.update(session.scalars(select(StoryRow.id).where(StoryRow.id.in_(part))))
        return known

    def save_stories(self, stories: Sequence[Story], now: datetime) -> list[SavedStory]:
        """Insert unseen stories and note every feed a story was seen in, in one transaction;
        tell which stories are new and which changed their title or summary.

        A story keeps the publication time it was first stored with: a feed without dates gives
        the first-seen time once, not a new time on every poll."""
        if not stories:
            return []
        for attempt in range(3):
            try:
                with self._sessions.begin() as session:
                    return self._save_stories(session, stories, now)
            except IntegrityError:  # another writer stored some of these stories first
                if attempt == 2:
                    raise
        return []

    def _save_stories(
        self, session: Session, stories: Sequence[Story], now: datetime
    ) -> list[SavedStory]:
        unique = list({s.id: s for s in stories}.values())
        stored: dict[str, tuple[str, datetime | None]] = {}
        known_sources: set[tuple[str, str | None]] = set()
        connection = session.connection()
        # one round trip per chunk through Core (no ORM entities): each stored story with every
        # feed it was seen in; an unseen story costs nothing beyond its id in the IN list
        for part in chunks([s.id for s in unique]):
            for story_id, digest, published, feed_url in connection.execute(
                select(
                    _STORIES.c.id,
                    _STORIES.c.text_hash,
                    _STORIES.c.published_at,
                    _SOURCES.c.feed_url,
                )
                .outerjoin(_SOURCES, _SOURCES.c.story_id == _STORIES.c.id)
                .where(_STORIES.c.id.in_(part))
            ):
                stored[story_id] = (digest, published)
                known_sources.add((story_id, feed_url))
        saved: list[SavedStory] = []
        fresh: list[dict[str, Any]] = []
        changed: list[Story] = []
        for story in unique:
            if story.id not in stored:
                fresh.append(_insert_values(story, now))
                dated = story if story.published else replace(story, published=now)
                saved.append(SavedStory(dated, is_new=True, changed=False))
                continue
            digest, published = stored[story.id]
            edited = digest != story_digest(story)
            if edited:
                changed.append(story)
            if published and published != story.published:
                story = replace(story, published=published)
            saved.append(SavedStory(story, is_new=False, changed=edited))
        if fresh:
            connection.execute(insert(_STORIES), fresh)
        for story in changed:
            values: dict[str, Any] = {
                "title": story.title,
                "summary": story.summary,
                "text_hash": story_digest(story),
            }
            if story.content:
                values["content"] = story.content
            connection.execute(update(_STORIES).where(_STORIES.c.id == story.id).values(**values))
        sources: dict[tuple[str, str], dict[str, Any]] = {}
        for story in stories:
            feed_url = story.feed_url[:2048]
            key = (story.id, feed_url)
            if key not in sources and key not in known_sources:
                sources[key] = {"story_id": story.id, "feed_url": feed_url, "seen_at": now}
        if sources:
            connection.execute(insert(_SOURCES), list(sources.values()))
        return saved

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
                    matches=[match_json(m) for m in hit.matches],
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
                HitRecord(row_story(s, s.published_at), row_hit(h), h.created_at, status)
                for h, s, status in rows
            ]
