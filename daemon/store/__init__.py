"""Storage: SQLAlchemy engine, ORM tables and the repository. ORM objects never leave here."""

from daemon.store.repository import (
    CycleReport,
    FailedAlert,
    FeedHealth,
    HitRecord,
    SavedStory,
    StatusReport,
    Store,
)

__all__ = [
    "CycleReport",
    "FailedAlert",
    "FeedHealth",
    "HitRecord",
    "SavedStory",
    "StatusReport",
    "Store",
]
