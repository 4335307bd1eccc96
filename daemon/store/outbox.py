"""The alert outbox: due entries, and what became of each delivery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from daemon.models import Alert, Delivery, Hit
from daemon.store.base import StoreBase, row_hit, row_story
from daemon.store.tables import AlertRow, HitRow, StoryRow


class OutboxStore(StoreBase):
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
                hits.setdefault(hit.alert_id or 0, []).append(row_hit(hit))
            return [
                Alert(
                    id=alert.id,
                    story=row_story(story, story.published_at),
                    hits=tuple(hits.get(alert.id, ())),
                    channel=alert.channel,
                    attempts=alert.attempts,
                    thread_ts=alert.thread_ts,
                    created_at=alert.created_at,
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
