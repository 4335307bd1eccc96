"""The alert outbox: which alerts are due, their threads, claims, and what became of each one.

An alert moves ``pending`` → ``sending`` (claimed, committed before the post) → ``sent``; or to
``failed`` (Slack refused it for good, or too many attempts) or ``suppressed`` (below a channel's
minimum severity, or inside a rule's quiet window). A claim also pushes ``next_attempt_at`` to the
end of a lease, so a second worker leaves a claimed alert alone until the claimant had time to
finish; after a crash the alert comes due again when the lease ends, still ``sending``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session

from daemon.models import Alert, Delivery, Hit
from daemon.store.base import StoreBase, row_hit, row_story
from daemon.store.tables import AlertRow, HitRow, ReplicaRow, StoryRow

ACTIVE = ("pending", "sending")
LIVE = ("pending", "sending", "sent")
DECIDER_SILENCE = timedelta(seconds=45)
"""A replica whose heartbeat is older than this no longer places alerts in threads."""


@dataclass(frozen=True)
class ThreadState:
    """Where an alert that others may reply to stands."""

    alert_id: int
    status: str
    slack_ts: str | None
    next_attempt_at: datetime


class OutboxStore(StoreBase):
    replica_id: str | None = None
    """Set by ``run``: due alerts are then reserved for this replica (several replicas share the
    outbox); None (``once``, tests) reads them without reserving."""
    alert_lease: timedelta = timedelta(minutes=2)

    def due_alerts(self, now: datetime, limit: int = 100) -> list[Alert]:
        """Alerts to post now: pending, or left ``sending`` past their lease.

        With a replica id they are reserved for this replica for ``alert_lease`` in the same
        transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so replicas post disjoint sets
        and each reads an alert's status as it stands when reserved. Alerts not yet placed in a
        thread are left to the replica that places alerts (see ``places_alerts``)."""
        due = [AlertRow.status.in_(ACTIVE), AlertRow.next_attempt_at <= now]
        if self.replica_id is None:
            return self._alerts(due, limit)
        with self._sessions.begin() as session:
            if not self._places_alerts(session, now):
                due.append(AlertRow.thread_of.is_not(None))
            ids = list(
                session.scalars(
                    select(AlertRow.id)
                    .where(*due)
                    .order_by(AlertRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            session.execute(
                update(AlertRow)
                .where(AlertRow.id.in_(ids))
                .values(claimed_by=self.replica_id, next_attempt_at=now + self.alert_lease)
            )
        return self._alerts([AlertRow.id.in_(ids)], limit)

    def undecided_alerts(self, limit: int = 100) -> list[Alert]:
        """Pending alerts not yet placed in a thread (or at the top level), oldest first; only
        for the replica that places alerts, so two replicas never start two threads at once."""
        if self.replica_id is not None:
            with self._sessions() as session:
                if not self._places_alerts(session, datetime.now(UTC)):
                    return []
        return self._alerts([AlertRow.status == "pending", AlertRow.thread_of.is_(None)], limit)

    def _places_alerts(self, session: Session, now: datetime) -> bool:
        """True for the live replica with the smallest id (or with no replica id at all)."""
        if self.replica_id is None:
            return True
        first = session.scalar(
            select(func.min(ReplicaRow.id)).where(
                ReplicaRow.heartbeat_at >= now - DECIDER_SILENCE,
                ReplicaRow.stopped_at.is_(None),
            )
        )
        return first is None or first == self.replica_id

    def thread_roots(
        self, channels: Sequence[str | None], since: datetime, before_id: int
    ) -> list[Alert]:
        """Top-level alerts for any of ``channels`` (None: the default channel) created since
        ``since`` that are, or will be, posted."""
        named = [channel for channel in channels if channel is not None]
        same_channel = or_(
            AlertRow.channel.in_(named),
            AlertRow.channel.is_(None) if None in channels else false(),
        )
        return self._alerts(
            [
                same_channel,
                AlertRow.thread_of == AlertRow.id,
                AlertRow.status.in_(LIVE),
                AlertRow.created_at >= since,
                AlertRow.id < before_id,
            ],
            500,
        )

    def thread_rules(self, root_id: int) -> dict[str, datetime]:
        """For each rule already alerted in a thread: when it last did."""
        with self._sessions() as session:
            rows = session.execute(
                select(HitRow.rule_id, func.max(AlertRow.created_at))
                .join(AlertRow, HitRow.alert_id == AlertRow.id)
                .where(AlertRow.thread_of == root_id, AlertRow.status.in_(LIVE))
                .group_by(HitRow.rule_id)
            ).all()
        return {rule_id: latest for rule_id, latest in rows}

    def thread_state(self, alert_id: int) -> ThreadState | None:
        with self._sessions() as session:
            row = session.get(AlertRow, alert_id)
            if row is None:
                return None
            return ThreadState(row.id, row.status, row.slack_ts, row.next_attempt_at)

    def place_in_thread(self, alert_id: int, root_id: int) -> None:
        self._update(alert_id, thread_of=root_id)

    def next_due(self) -> datetime | None:
        """When the earliest pending or claimed alert comes due (None: nothing left to send)."""
        with self._sessions() as session:
            return session.scalar(
                select(func.min(AlertRow.next_attempt_at)).where(AlertRow.status.in_(ACTIVE))
            )

    def claim(
        self, alert_id: int, now: datetime, lease_until: datetime, thread_ts: str | None
    ) -> bool:
        """Mark the alert ``sending`` and commit, before posting. False if another worker has it
        (an alert reserved by this replica's ``due_alerts`` is its own to claim)."""
        free = AlertRow.next_attempt_at <= now
        if self.replica_id is not None:
            free = or_(free, AlertRow.claimed_by == self.replica_id)
        with self._sessions.begin() as session:
            claimed = session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.status.in_(ACTIVE), free)
                .values(
                    claimed_by=self.replica_id,
                    status="sending",
                    next_attempt_at=lease_until,
                    thread_ts=thread_ts,
                    sending_since=func.coalesce(AlertRow.sending_since, now),
                )
            )
            return bool(claimed.rowcount)

    def mark_sent(self, alert_id: int, delivery: Delivery, now: datetime) -> None:
        self._update(
            alert_id,
            status="sent",
            attempts=AlertRow.attempts + 1,
            slack_channel=delivery.channel,
            slack_ts=delivery.ts,
            sent_at=now,
            last_error=None,
        )

    def mark_retry(
        self, alert_id: int, error: str, next_attempt_at: datetime, *, maybe_posted: bool = False
    ) -> None:
        """Try again later. ``maybe_posted``: the failed post may have reached Slack (a timeout,
        a 5xx), so the alert stays ``sending`` and is looked for before it is posted again."""
        self._update(
            alert_id,
            status="sending" if maybe_posted else "pending",
            attempts=AlertRow.attempts + 1,
            last_error=error,
            next_attempt_at=next_attempt_at,
        )

    def mark_failed(self, alert_id: int, error: str) -> None:
        self._update(alert_id, status="failed", attempts=AlertRow.attempts + 1, last_error=error)

    def mark_suppressed(self, alert_id: int, reason: str) -> None:
        self._update(alert_id, status="suppressed", last_error=reason)

    def defer(self, alert_id: int, until: datetime) -> None:
        """Put an alert off without counting an attempt (its thread's first alert is not out)."""
        with self._sessions.begin() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.status.in_(ACTIVE))
                .values(next_attempt_at=until)
            )

    def _update(self, alert_id: int, **values: object) -> None:
        with self._sessions.begin() as session:
            session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values))

    def _alerts(self, conditions: Sequence[object], limit: int) -> list[Alert]:
        with self._sessions() as session:
            rows = session.execute(
                select(AlertRow, StoryRow)
                .join(StoryRow, AlertRow.story_id == StoryRow.id)
                .where(*conditions)  # type: ignore[arg-type]
                .order_by(AlertRow.id)
                .limit(limit)
            ).all()
            hits = _hits_of(session, [alert.id for alert, _ in rows])
            return [
                Alert(
                    id=alert.id,
                    story=row_story(story, story.published_at),
                    hits=tuple(hits[alert.id]),
                    channel=alert.channel,
                    attempts=alert.attempts,
                    thread_ts=alert.thread_ts,
                    created_at=alert.created_at,
                    status=alert.status,
                    thread_of=alert.thread_of,
                    sending_since=alert.sending_since,
                )
                for alert, story in rows
                if alert.id in hits
            ]


def _hits_of(session: Session, alert_ids: list[int]) -> dict[int, list[Hit]]:
    hits: dict[int, list[Hit]] = {}
    if not alert_ids:
        return hits
    for hit in session.scalars(
        select(HitRow).where(HitRow.alert_id.in_(alert_ids)).order_by(HitRow.id)
    ):
        hits.setdefault(hit.alert_id or 0, []).append(row_hit(hit))
    return hits


__all__ = ["OutboxStore", "ThreadState"]
