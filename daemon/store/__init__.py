"""Storage: SQLAlchemy engine, ORM tables and repositories. ORM objects never leave here."""

from daemon.store.base import (
    CycleReport,
    FailedAlert,
    FeedHealth,
    HitRecord,
    SavedStory,
    StatusReport,
)
from daemon.store.repository import Store

__all__ = [
    "CycleReport",
    "FailedAlert",
    "FeedHealth",
    "HitRecord",
    "SavedStory",
    "StatusReport",
    "Store",
]
