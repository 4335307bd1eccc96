"""Running daemons: heartbeats and rule state, for `status` and health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from daemon.store.base import StoreBase
from daemon.store.tables import ReplicaRow


@dataclass(frozen=True)
class ReplicaInfo:
    id: str
    hostname: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    rules_loaded: int
    rules_loaded_at: datetime | None
    rule_errors: str | None


class ReplicaStore(StoreBase):
    def register_replica(
        self, replica_id: str, hostname: str, pid: int, version: str, now: datetime
    ) -> None:
        with self._sessions.begin() as session:
            session.merge(
                ReplicaRow(
                    id=replica_id,
                    hostname=hostname,
                    pid=pid,
                    version=version,
                    started_at=now,
                    heartbeat_at=now,
                    rules_loaded=0,
                )
            )

    def heartbeat(self, replica_id: str, now: datetime) -> None:
        with self._sessions.begin() as session:
            row = session.get(ReplicaRow, replica_id)
            if row is not None:
                row.heartbeat_at = now

    def record_rules(
        self, replica_id: str, now: datetime, loaded: int | None, errors: str | None
    ) -> None:
        """Note a rule (re)load: ``loaded`` rules now active, or ``errors`` of a refused reload."""
        with self._sessions.begin() as session:
            row = session.get(ReplicaRow, replica_id)
            if row is None:
                return
            if loaded is not None:
                row.rules_loaded = loaded
                row.rules_loaded_at = now
            row.rule_errors = errors

    def mark_stopped(self, replica_id: str, now: datetime) -> None:
        with self._sessions.begin() as session:
            row = session.get(ReplicaRow, replica_id)
            if row is not None:
                row.stopped_at = row.heartbeat_at = now

    def replicas(self, since: datetime) -> tuple[ReplicaInfo, ...]:
        """Replicas that were alive at or after ``since``."""
        with self._sessions() as session:
            rows = session.scalars(
                select(ReplicaRow)
                .where(ReplicaRow.heartbeat_at >= since)
                .order_by(ReplicaRow.started_at)
            ).all()
            return tuple(
                ReplicaInfo(
                    r.id,
                    r.hostname,
                    r.pid,
                    r.version,
                    r.started_at,
                    r.heartbeat_at,
                    r.stopped_at,
                    r.rules_loaded,
                    r.rules_loaded_at,
                    r.rule_errors,
                )
                for r in rows
            )

    def forget_replicas(self, before: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(ReplicaRow).where(ReplicaRow.heartbeat_at < before))
