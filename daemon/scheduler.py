"""When things run: the feed dispatcher and delivery every second, heartbeat, reloads, daily
jobs. The only APScheduler importer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": ThreadPoolExecutor(1),
                "dispatch": ThreadPoolExecutor(1),
                "delivery": ThreadPoolExecutor(1),
                "control": ThreadPoolExecutor(2),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def every(self, interval: timedelta, job: Callable[[], object], name: str) -> None:
        self._scheduler.add_job(
            job,
            IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC),
            id=name,
            name=name,
            executor=name if name in {"delivery", "dispatch"} else "control",
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
