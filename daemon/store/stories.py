"""Stories (deduplicated across feeds and polls) and the hits recorded on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from daemon.models import Hit, Story
from daemon.store.base import (
    HitRecord,
    SavedStory,
    StoreBase,
    match_json,
    row_hit,
    row_story,
    story_row,
    text_hash,
)
from daemon.store.tables import AlertRow, HitRow, StoryRow, StorySourceRow


class StoryStore(StoreBase):
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
                digest = text_hash(story)
                row = existing.get(story.id)
                if row is None:
                    session.add(story_row(story, digest, now))
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
                    kept = row_story(row, published)
                    saved.append(SavedStory(kept, is_new=False, changed=changed))
                if (story.id, story.feed_url) not in known_sources:
                    session.add(
                        StorySourceRow(story_id=story.id, feed_url=story.feed_url, seen_at=now)
                    )
                    known_sources.add((story.id, story.feed_url))
            session.flush()
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
