"""When things run: each feed on its own interval, delivery every second. The only APScheduler
importer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from daemon.models import FeedSpec

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, workers: int = 8) -> None:
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": ThreadPoolExecutor(workers),
                "delivery": ThreadPoolExecutor(1),
                "control": ThreadPoolExecutor(2),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def schedule_feeds(
        self, feeds: Sequence[FeedSpec], poll: Callable[[FeedSpec], object], first_run: datetime
    ) -> None:
        """Poll each feed at ``first_run`` (or now), then on its interval with a little jitter.
        ``max_instances=1`` keeps two polls of one feed from overlapping; ``coalesce`` keeps a
        slow poll from stacking up runs behind itself."""
        for feed in feeds:
            seconds = feed.interval.total_seconds()
            self._scheduler.add_job(
                poll,
                IntervalTrigger(seconds=seconds, jitter=min(seconds * 0.1, 60), timezone=UTC),
                args=[feed],
                id=f"feed:{feed.url}",
                name=feed.name or feed.url,
                next_run_time=first_run,
                replace_existing=True,
            )

    def remove_feed(self, url: str) -> None:
        job = self._scheduler.get_job(f"feed:{url}")
        if job is not None:
            job.remove()

    def every(self, interval: timedelta, job: Callable[[], object], name: str) -> None:
        self._scheduler.add_job(
            job,
            IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC),
            id=name,
            name=name,
            executor="delivery" if name == "delivery" else "control",
            next_run_time=datetime.now(UTC),
            replace_existing=True,
        )

    def daily(self, job: Callable[[], object], name: str, hour: int, minute: int = 0) -> None:
        """Run ``job`` every day at ``hour:minute`` UTC."""
        self._scheduler.add_job(
            job,
            CronTrigger(hour=hour, minute=minute, timezone=UTC),
            id=name,
            name=name,
            executor="control",
            replace_existing=True,
        )

    def start(self) -> None:
        self._scheduler.start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def shutdown(self, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
