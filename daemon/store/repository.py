"""The store's public face: one object with everything the pipeline, delivery and CLI need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, func, select

from daemon.store import database
from daemon.store.base import CycleReport, FailedAlert, StatusReport
from daemon.store.feeds import FeedStore
from daemon.store.history import HistoryStore
from daemon.store.outbox import OutboxStore
from daemon.store.replicas import ReplicaStore
from daemon.store.stories import StoryStore
from daemon.store.tables import AlertRow, CycleRow, HitRow, StoryRow


class Store(FeedStore, StoryStore, OutboxStore, ReplicaStore, HistoryStore):
    @classmethod
    def connect(cls, url: str) -> Store:
        """Build an engine and check that the database answers (ConfigError if not)."""
        engine = database.build_engine(url)
        database.check_connection(engine)
        return cls(engine)

    def upgrade(self) -> None:
        database.upgrade(self.engine)

    def schema_is_current(self) -> bool:
        """Whether the schema is at the newest migration (``upgrade`` would change nothing)."""
        return database.schema_revision(self.engine) == database.SCHEMA_HEAD

    def close(self) -> None:
        self.engine.dispose()

    def prune_stories(self, before: datetime) -> int:
        """Delete stories first seen before ``before`` that have no hits; hits and alerts stay."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(StoryRow).where(
                    StoryRow.first_seen_at < before,
                    ~exists().where(HitRow.story_id == StoryRow.id),
                    ~exists().where(AlertRow.story_id == StoryRow.id),
                )
            )
            return int(result.rowcount or 0)

    def ping(self) -> None:
        """Raise StoreError when the database does not answer."""
        database.ping(self.engine)

    def record_cycle(self, report: CycleReport) -> None:
        with self._sessions.begin() as session:
            session.add(CycleRow(**report.__dict__))

    def status(self, now: datetime | None = None) -> StatusReport:
        """Feeds, outbox, last cycle, failed alerts, and replicas seen in the last ten minutes."""
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
        replicas = self.replicas((now or datetime.now(UTC)) - timedelta(minutes=10))
        return StatusReport(self.feed_health(), outbox, last_cycle, failed_alerts, replicas)
