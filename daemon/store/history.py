"""Stored stories and what alerted on them, to replay a changed rule set (rules backtest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from daemon.models import Story
from daemon.store.base import StoreBase, row_story
from daemon.store.tables import HitRow, StoryRow


class HistoryStore(StoreBase):
    def stories_since(self, since: datetime) -> list[Story]:
        """Stories first seen at or after ``since``, oldest first, with their latest text."""
        with self._sessions() as session:
            rows = session.scalars(
                select(StoryRow)
                .where(StoryRow.first_seen_at >= since)
                .order_by(StoryRow.first_seen_at, StoryRow.id)
            ).all()
            return [row_story(row, row.published_at) for row in rows]

    def recorded_rules_since(self, since: datetime) -> dict[str, set[str]]:
        """Story id -> ids of the rules that alerted on it, for stories first seen at or after
        ``since``. Only hits that went to the alert outbox count: hits recorded quietly (rules
        in ``status: test``, stories older than the backfill window) did not alert."""
        recorded: dict[str, set[str]] = {}
        with self._sessions() as session:
            rows = session.execute(
                select(HitRow.story_id, HitRow.rule_id)
                .join(StoryRow, HitRow.story_id == StoryRow.id)
                .where(StoryRow.first_seen_at >= since, HitRow.alert_id.is_not(None))
            )
            for story_id, rule_id in rows:
                recorded.setdefault(story_id, set()).add(rule_id)
        return recorded
