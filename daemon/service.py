"""The `run` lifecycle: scheduling, reloads, heartbeats, health, and a clean stop."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from daemon import __version__
from daemon.dispatcher import Dispatcher
from daemon.errors import SanctionwatchError
from daemon.health import HealthServer, Probe
from daemon.metrics import Metrics
from daemon.models import FeedSpec
from daemon.scheduler import Scheduler
from daemon.store import CycleReport, Store
from daemon.store.feeds import FeedState

log = logging.getLogger("sanctionwatch")

STOP_GRACE_SECONDS = 8.0


def default_replica_id() -> str:
    """``hostname-pid-random``: unique per process, readable in ``status``."""
    suffix = f"-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    return socket.gethostname()[: 64 - len(suffix)] + suffix


class RulebookHolder:
    """The rules in force; swapped whole on a successful reload, never half-updated."""

    def __init__(self, rulebook: object) -> None:
        self._current = rulebook
        self._lock = threading.Lock()

    def get(self) -> object:
        with self._lock:
            return self._current

    def set(self, rulebook: object) -> None:
        with self._lock:
            self._current = rulebook


@dataclass
class _Tally:
    """Feed polls since the last cycle record (the daemon polls feeds on their own clocks)."""

    started_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, started: datetime, outcome: object) -> None:
        if getattr(outcome, "status", "") == "deferred":
            return
        with self.lock:
            self.started_at = self.started_at or started
            self.counts["polled"] = self.counts.get("polled", 0) + 1
            status = getattr(outcome, "status", "")
            self.counts["failed"] = self.counts.get("failed", 0) + (status == "failed")
            self.counts["unchanged"] = self.counts.get("unchanged", 0) + (status == "unchanged")
            for name in ("stories_new", "hits_new"):
                self.counts[name] = self.counts.get(name, 0) + getattr(outcome, name, 0)

    def take(self, now: datetime) -> CycleReport | None:
        with self.lock:
            if self.started_at is None:
                return None
            report = CycleReport(
                started_at=self.started_at,
                finished_at=now,
                feeds_polled=self.counts.get("polled", 0),
                feeds_failed=self.counts.get("failed", 0),
                feeds_unchanged=self.counts.get("unchanged", 0),
                stories_new=self.counts.get("stories_new", 0),
                hits_new=self.counts.get("hits_new", 0),
            )
            self.started_at, self.counts = None, {}
            return report


def _signature(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    found: list[tuple[str, int, int]] = []
    for path in paths:
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            try:
                info = file.stat()
            except OSError:
                continue
            if file.is_file():
                found.append((str(file), info.st_mtime_ns, info.st_size))
    return tuple(found)


DELIVERY_WATCH_SECONDS = 0.9
"""How long one run of the delivery job (every second) keeps delivering new alerts as they come."""


class Service:
    def __init__(
        self,
        *,
        store: Store,
        poll: Callable[[FeedSpec, FeedState], object],
        deliver: Callable[[], object],
        feeds: list[FeedSpec],
        rules: RulebookHolder,
        rule_count: Callable[[object], int],
        load_rules: Callable[[], object],
        load_feeds: Callable[[], list[FeedSpec]],
        watched: list[Path],
        metrics: Metrics,
        clock: Callable[[], datetime],
        http_port: int | None,
        retention: timedelta = timedelta(days=90),
        on_stop: Callable[[], None] = lambda: None,
        replica_id: str | None = None,
        claim_batch: int = 50,
        claim_lease: timedelta = timedelta(seconds=60),
        poll_workers: int = 32,
    ) -> None:
        self.retention = retention
        self.store = store
        self.poll = poll
        self.deliver = deliver
        self.feeds = feeds
        self.rules = rules
        self.rule_count = rule_count
        self.load_rules = load_rules
        self.load_feeds = load_feeds
        self.watched = watched
        self.metrics = metrics
        self.clock = clock
        self.on_stop = on_stop
        self.replica_id = replica_id or default_replica_id()
        self.scheduler = Scheduler()
        self.dispatcher = Dispatcher(
            store=store,
            poll=self._poll,
            replica_id=self.replica_id,
            clock=clock,
            batch=claim_batch,
            lease=claim_lease,
            workers=poll_workers,
        )
        self.tally = _Tally()
        self.started_at = clock()
        self.last_tick = clock()
        self.alerts_waiting = threading.Event()
        self.reload_requested = threading.Event()
        self.stop_requested = threading.Event()
        self._signature = _signature(watched)
        self._job_errors: dict[str, str] = {}
        self.health = (
            HealthServer(http_port, self.liveness, self.readiness, self.render_metrics)
            if http_port is not None
            else None
        )

    # jobs ---------------------------------------------------------------------------------------

    def _guarded(self, name: str, job: Callable[[], object]) -> Callable[[], None]:
        """Run a job; an error is logged once per change of message and shown in /readyz."""

        def run() -> None:
            try:
                job()
            except Exception as exc:
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.metrics.job_errors.labels(name).inc()
                if self._job_errors.get(name) != message:
                    log.error("%s failed: %s", name, message, extra={"job": name})
                self._job_errors[name] = message
            else:
                if self._job_errors.pop(name, None) is not None:
                    log.info("%s recovered", name, extra={"job": name})

        return run

    def _poll(self, feed: FeedSpec, state: FeedState) -> None:
        started = self.clock()
        clock_start = time.monotonic()
        try:
            outcome = self.poll(feed, state)
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.metrics.job_errors.labels("poll").inc()
            if self._job_errors.get("poll") != message:
                log.error("poll of %s failed: %s", feed.url, message, extra={"url": feed.url})
            self._job_errors["poll"] = message
            return
        self._job_errors.pop("poll", None)
        self.metrics.cycle_duration.labels("feed").observe(time.monotonic() - clock_start)
        self.tally.add(started, outcome)
        if getattr(outcome, "alerts_new", 0):
            self.alerts_waiting.set()

    def _deliver(self) -> None:
        """Deliver due alerts, then, until the next run of this job, again as soon as a poll
        queues new ones: an alert leaves within moments of its story, not at the next second."""
        deadline = time.monotonic() + DELIVERY_WATCH_SECONDS
        self.alerts_waiting.clear()
        self.deliver()
        while not self.stop_requested.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.alerts_waiting.wait(remaining):
                return
            self.alerts_waiting.clear()
            self.deliver()

    def _tick(self) -> None:
        self.last_tick = self.clock()
        self.store.heartbeat(self.replica_id, self.last_tick)
        report = self.tally.take(self.last_tick)
        if report is not None:
            self.store.record_cycle(report)
        self._refresh_gauges()

    def _refresh_gauges(self) -> None:
        status = self.store.status(self.clock())
        self.metrics.alerts_pending.set(status.outbox.get("pending", 0))
        self.metrics.feeds_unhealthy.set(sum(not f.healthy for f in status.feeds))

    def _prune(self) -> None:
        removed = self.store.prune_stories(self.clock() - self.retention)
        log.info("pruned old stories without hits", extra={"stories": removed})

    def _watch(self) -> None:
        signature = _signature(self.watched)
        if signature != self._signature or self.reload_requested.is_set():
            self.reload_requested.clear()
            self._signature = signature
            self.reload()

    # reload -------------------------------------------------------------------------------------

    def reload(self) -> None:
        now = self.clock()
        try:
            rulebook = self.load_rules()
        except SanctionwatchError as error:
            self.metrics.rule_load_errors.inc()
            self.store.record_rules(self.replica_id, now, None, str(error))
            log.error("rules not reloaded, the previous rules stay in force: %s", error)
        else:
            self.rules.set(rulebook)
            count = self.rule_count(rulebook)
            self.metrics.rules_loaded.set(count)
            self.store.record_rules(self.replica_id, now, count, None)
            log.info("rules reloaded", extra={"rules": count})
        try:
            feeds = self.load_feeds()
        except SanctionwatchError as error:
            log.error("feed list not reloaded, the previous list stays in force: %s", error)
            return
        if feeds != self.feeds:
            removed = {f.url for f in self.feeds} - {f.url for f in feeds}
            self._schedule(feeds, now)
            self.feeds = feeds
            log.info("feed list reloaded", extra={"feeds": len(feeds), "removed": len(removed)})

    def _schedule(self, feeds: list[FeedSpec], now: datetime) -> None:
        """The feed list becomes the shared schedule (intervals in the database); the
        dispatcher polls the feeds it claims from it."""
        self.store.schedule_feeds(((f.url, f.name, f.interval) for f in feeds), now)
        self.dispatcher.set_feeds(feeds)

    # probes -------------------------------------------------------------------------------------

    def liveness(self) -> Probe:
        now = self.clock()
        tick_age = (now - self.last_tick).total_seconds()
        checks = {
            "scheduler": "running" if self.scheduler.running else "stopped",
            "last_tick": f"{tick_age:.0f}s ago",
        }
        return Probe(self.scheduler.running and tick_age < 90, checks)

    def readiness(self) -> Probe:
        checks: dict[str, str] = {}
        ok = True
        try:
            self.store.ping()
            checks["database"] = "ok"
        except SanctionwatchError as error:
            ok, checks["database"] = False, str(error)
        count = self.rule_count(self.rules.get())
        checks["rules"] = f"{count} loaded"
        ok = ok and count > 0
        for name, message in self._job_errors.items():
            checks[f"job:{name}"] = message
        return Probe(ok, checks)

    def render_metrics(self) -> tuple[bytes, str]:
        return self.metrics.render()

    # lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        now = self.clock()
        self.store.register_replica(
            self.replica_id, socket.gethostname(), os.getpid(), __version__, now
        )
        count = self.rule_count(self.rules.get())
        self.store.record_rules(self.replica_id, now, count, None)
        self.metrics.rules_loaded.set(count)
        self._schedule(self.feeds, now)
        self.scheduler.every(
            timedelta(seconds=1), self._guarded("dispatch", self.dispatcher.tick), "dispatch"
        )
        self.scheduler.every(
            timedelta(seconds=1), self._guarded("delivery", self._deliver), "delivery"
        )
        self.scheduler.every(
            timedelta(seconds=15), self._guarded("heartbeat", self._tick), "heartbeat"
        )
        self.scheduler.every(timedelta(seconds=2), self._guarded("reload", self._watch), "reload")
        self.scheduler.daily(
            self._guarded("retention", self._prune), "retention", hour=3, minute=17
        )
        if self.health is not None:
            self.health.start()
        self.scheduler.start()
        log.info(
            "sanctionwatch %s running",
            __version__,
            extra={
                "replica": self.replica_id,
                "feeds": len(self.feeds),
                "rules": count,
                "http_port": self.health.port if self.health else None,
            },
        )

    def stop(self) -> bool:
        """Let in-flight work finish for a few seconds; True when everything stopped in time."""

        def shutdown() -> None:
            self.scheduler.shutdown(wait=True)
            self.dispatcher.close(wait=True)

        stopper = threading.Thread(target=shutdown)
        stopper.start()
        stopper.join(STOP_GRACE_SECONDS)
        clean = not stopper.is_alive()
        try:
            self.dispatcher.release()
            self._tick()
            self.store.mark_stopped(self.replica_id, self.clock())
        except Exception as exc:
            log.warning("could not record the stop: %s", exc)
        if self.health is not None:
            self.health.stop()
        self.on_stop()
        log.info("stopped" if clean else "stopped; some feed requests were abandoned")
        return clean
