"""The command line and the only composition root: builds real objects from Settings."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from daemon.arguments import build_parser
from daemon.config import Settings, parse_duration
from daemon.errors import ConfigError, RuleLoadError, SanctionwatchError, StoreError

if TYPE_CHECKING:
    from daemon.alerts.outbox import Deliverer
    from daemon.alerts.sender import Sender
    from daemon.lock import InstanceLock
    from daemon.metrics import Metrics
    from daemon.models import FeedSpec
    from daemon.pipeline import Pipeline
    from daemon.rules import Rulebook
    from daemon.service import RulebookHolder
    from daemon.store import Store

log = logging.getLogger("sanctionwatch")

ONCE_DELIVERY_WINDOW = timedelta(seconds=60)
"""How long `once` keeps retrying transient delivery failures (Retry-After, 5xx) before exiting."""


def utcnow() -> datetime:
    return datetime.now(UTC)


# composition -----------------------------------------------------------------------------------


def load_feeds(settings: Settings) -> list[FeedSpec]:
    from daemon.feeds.sources import load_feed_list

    return load_feed_list(settings.feeds_path)


def load_rules(path: Path) -> Rulebook:
    from daemon.rules import load_rulebook

    if not path.exists():
        raise ConfigError("SANCTIONWATCH_RULES", f"rules folder not found: {path}")
    try:
        return load_rulebook(path)
    except RuleLoadError as error:
        first = error.problems[0] if error.problems else error
        more = len(error.problems) - 1
        suffix = f" (and {more} more; run 'sanctionwatch rules check')" if more > 0 else ""
        raise ConfigError("SANCTIONWATCH_RULES", f"{first}{suffix}") from None


def open_store(settings: Settings, migrate: bool = True) -> Store:
    from daemon.store import Store

    store = Store.connect(settings.database_url)
    if migrate:
        store.upgrade()
    return store


def migrate_in_child_process(settings: Settings) -> None:
    """Bring the schema up to date in a short-lived ``db upgrade`` process, so that the daemon
    process never imports the migration tooling (about 11 MiB it would hold for good)."""
    store = open_store(settings, migrate=False)
    try:
        if store.schema_is_current():
            return
    finally:
        store.close()
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "db", "upgrade"], capture_output=True, text=True
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise StoreError(lines[-1].removeprefix("sanctionwatch: "))


def build_sender(settings: Settings, out: TextIO) -> tuple[Sender, bool]:
    """The sender for the configured mode, and whether an alert needs a channel for it."""
    if settings.alert_mode == "slack":
        from daemon.alerts.slack import DEFAULT_TIMEOUT, SlackSender

        timeout = min(DEFAULT_TIMEOUT, settings.delivery_lease.total_seconds() / 3)
        token = settings.slack_bot_token or ""
        return SlackSender(token, base_url=settings.slack_api_url, timeout=timeout), True
    if settings.alert_mode == "webhook":
        from daemon.alerts.slack import WebhookSender

        return WebhookSender(settings.slack_webhook_url or ""), False
    from daemon.alerts.console import ConsoleSender

    return ConsoleSender(out), False


def build_deliverer(settings: Settings, store: Store, out: TextIO, metrics: Metrics) -> Deliverer:
    from daemon.alerts.outbox import Deliverer, DeliveryPolicy
    from daemon.alerts.routing import Routing

    sender, channel_required = build_sender(settings, out)
    policy = DeliveryPolicy(
        pace=settings.slack_pace,
        lease=settings.delivery_lease,
        routing=Routing(dict(settings.slack_min_severity), dict(settings.quiet)),
    )
    return Deliverer(
        store, sender, utcnow, settings.slack_channel, channel_required, policy, metrics=metrics
    )


@dataclass
class Runtime:
    settings: Settings
    feeds: list[FeedSpec]
    store: Store
    pipeline: Pipeline
    deliverer: Deliverer
    rules: RulebookHolder
    metrics: Metrics
    lock: InstanceLock | None = None

    def close(self) -> None:
        self.pipeline.close()
        self.store.close()
        if self.lock is not None:
            self.lock.release()


def lock_sqlite(settings: Settings) -> InstanceLock | None:
    """Refuse a second writer on the same SQLite file (read-only commands need no lock)."""
    from daemon.lock import InstanceLock
    from daemon.store.database import sqlite_file

    database = sqlite_file(settings.database_url)
    if database is None:
        return None
    lock = InstanceLock(database.resolve())
    lock.acquire()
    return lock


def build_runtime(settings: Settings, out: TextIO) -> Runtime:
    from daemon.feeds.fetcher import Fetcher
    from daemon.metrics import Metrics
    from daemon.pipeline import Pipeline
    from daemon.service import RulebookHolder

    feeds = load_feeds(settings)
    rulebook = load_rules(settings.rules_path)
    lock = lock_sqlite(settings)
    store = open_store(settings)
    store.sync_feeds(((f.url, f.name) for f in feeds), utcnow())
    fetcher = Fetcher(
        timeout=settings.http_timeout.total_seconds(),
        max_body_bytes=settings.max_body_bytes,
        allow_private_addresses=settings.allow_private_addresses,
    )
    rules = RulebookHolder(rulebook)
    metrics = Metrics()
    pipeline = Pipeline(
        store,
        fetcher,
        rules.get,  # type: ignore[arg-type]
        utcnow,
        metrics=metrics,
        backfill=settings.backfill,
        default_channel=settings.slack_channel,
        rules_path=settings.rules_path,
        parse_processes=settings.parse_processes,
        match_in=settings.match_in,
    )
    deliverer = build_deliverer(settings, store, out, metrics)
    return Runtime(settings, feeds, store, pipeline, deliverer, rules, metrics, lock)


# commands --------------------------------------------------------------------------------------


def cmd_once(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    runtime = build_runtime(settings, sys.stdout)
    report, outcomes = runtime.pipeline.run_cycle(runtime.feeds)
    delivered = runtime.deliverer.drain(ONCE_DELIVERY_WINDOW)
    report = replace(
        report,
        finished_at=utcnow(),
        alerts_sent=delivered.sent,
        alerts_failed=delivered.failed,
    )
    runtime.store.record_cycle(report)
    for outcome in outcomes:
        if outcome.error is not None:
            print(f"feed failed: {outcome.error}", file=sys.stderr)
    print(
        f"cycle: {report.feeds_polled} feeds ({report.feeds_failed} failed, "
        f"{report.feeds_unchanged} unchanged), {report.stories_new} new stories, "
        f"{report.hits_new} hits, {delivered.sent} alerts sent, {delivered.retrying} to retry, "
        f"{delivered.failed} failed",
        file=sys.stderr,
    )
    runtime.close()
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.memory import limit_malloc_arenas
    from daemon.service import Service

    limit_malloc_arenas()
    migrate_in_child_process(settings)
    runtime = build_runtime(settings, sys.stdout)
    runtime.pipeline.start()
    try:
        service = Service(
            replica_id=settings.replica_id,
            claim_batch=settings.claim_batch,
            claim_lease=settings.claim_lease,
            poll_workers=settings.poll_workers,
            store=runtime.store,
            poll=runtime.pipeline.poll_feed,
            deliver=runtime.deliverer.deliver_due,
            feeds=runtime.feeds,
            rules=runtime.rules,
            rule_count=lambda rulebook: len(rulebook.rules),  # type: ignore[attr-defined]
            load_rules=lambda: load_rules(settings.rules_path),
            load_feeds=lambda: load_feeds(settings),
            watched=[settings.rules_path, settings.feeds_path],
            metrics=runtime.metrics,
            clock=utcnow,
            http_port=settings.http_port,
            retention=settings.retention,
            on_stop=runtime.close,
        )
    except OSError as exc:
        runtime.close()
        raise ConfigError("SANCTIONWATCH_HTTP_PORT", f"cannot listen: {exc.strerror}") from None
    runtime.store.replica_id = service.replica_id  # due alerts are reserved for this replica
    runtime.store.alert_lease = settings.delivery_lease

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        service.stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGHUP, lambda _signum, _frame: service.reload_requested.set())
    service.start()
    if settings.digest_at is not None:
        hour, minute = settings.digest_at
        service.scheduler.daily(runtime.deliverer.send_digest, "digest", hour, minute)
    while not service.stop_requested.wait(0.5):
        pass
    if not service.stop():
        logging.shutdown()
        os._exit(0)  # worker threads stuck in network reads must not hold up the exit
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    store.close()
    print("database schema is up to date", file=sys.stderr)
    return 0


def cmd_rules_check(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.rules.commands import rules_check

    return rules_check(Path(args.path) if args.path else settings.rules_path, sys.stdout)


def cmd_rules_test(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.rules.commands import rules_test

    load_rules(settings.rules_path)
    if args.file in (None, "-"):
        return rules_test(settings.rules_path, sys.stdin, sys.stdout, args.format)
    try:
        with open(args.file, encoding="utf-8") as source:
            return rules_test(settings.rules_path, source, sys.stdout, args.format)
    except OSError as exc:
        raise ConfigError("FILE", f"cannot read {args.file}: {exc.strerror}") from None


def cmd_rules_backtest(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.rules.commands import backtest

    rules_path = Path(args.path) if args.path else settings.rules_path
    since = utcnow() - parse_duration(args.since, "--since")
    store = open_store(settings, migrate=False)
    try:
        stories = store.stories_since(since)
        recorded = store.recorded_rules_since(since)
    finally:
        store.close()
    return backtest(rules_path, stories, recorded, sys.stdout, args.format)


def cmd_lists_import(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.rules.commands import lists_import

    out = Path(args.out) if args.out else settings.rules_path / "lists" / f"{args.name}.yaml"
    return lists_import(args.format, Path(args.source), args.name, out)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.rules.commands import evaluate_files

    load_rules(settings.rules_path)
    for name in args.files:
        if not Path(name).is_file():
            raise ConfigError("FILE", f"not found: {name}")
    return evaluate_files(
        settings.rules_path, [Path(f) for f in args.files], sys.stdout, args.format
    )


def cmd_hits(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.render import render_hits

    since = utcnow() - parse_duration(args.since, "--since")
    store = open_store(settings, migrate=False)
    render_hits(store.hits_since(since), args.format, sys.stdout)
    store.close()
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.render import render_status

    store = open_store(settings, migrate=False)
    now = utcnow()
    render_status(store.status(now), args.format, sys.stdout, now)
    store.close()
    return 0


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.feeds import sources

    path = settings.feeds_path
    if args.feeds_command == "list":
        from daemon.render import render_feeds

        configured = {f.url for f in load_feeds(settings)}
        store = open_store(settings, migrate=False)
        health = {f.url: f for f in store.feed_health()}
        store.close()
        from daemon.store import FeedHealth

        rows = [
            health.get(url) or FeedHealth(url, None, None, None, None, None, 0, None, 0)
            for url in sorted(configured | set(health))
        ]
        render_feeds(rows, args.format, sys.stdout, utcnow(), configured)
        return 0
    if args.feeds_command == "export":
        sys.stdout.write(sources.export_opml(load_feeds(settings)))
        return 0
    feeds = load_feeds(settings) if path.exists() else []
    if args.feeds_command == "add":
        from daemon.models import DEFAULT_INTERVAL, FeedSpec

        if any(f.url == args.url for f in feeds):
            print(f"already in {path}: {args.url}", file=sys.stderr)
            return 1
        interval = (
            parse_duration(args.interval, "--interval") if args.interval else DEFAULT_INTERVAL
        )
        feeds.append(FeedSpec(args.url, args.name, interval, args.fulltext, tuple(args.tags)))
        message = f"added {args.url}"
    elif args.feeds_command == "remove":
        kept = [f for f in feeds if f.url != args.url]
        if len(kept) == len(feeds):
            print(f"not in {path}: {args.url}", file=sys.stderr)
            return 1
        feeds, message = kept, f"removed {args.url}"
    else:
        imported = sources.load_opml(Path(args.file))
        known = {f.url for f in feeds}
        added = [f for f in imported if f.url not in known]
        feeds.extend(added)
        message = f"imported {len(added)} feeds ({len(imported) - len(added)} already listed)"
    sources.save_feed_list(path, feeds)
    print(f"{message}; {path} now lists {len(feeds)} feeds", file=sys.stderr)
    return 0


# parser ----------------------------------------------------------------------------------------


HANDLERS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "run": cmd_run,
    "once": cmd_once,
    "rules_check": cmd_rules_check,
    "rules_test": cmd_rules_test,
    "rules_backtest": cmd_rules_backtest,
    "lists_import": cmd_lists_import,
    "eval": cmd_eval,
    "feeds": cmd_feeds,
    "hits": cmd_hits,
    "status": cmd_status,
    "db_upgrade": cmd_db_upgrade,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        from daemon import logs

        logs.configure(settings.log_format)
        return int(HANDLERS[args.handler](args, settings))
    except ConfigError as error:
        print(f"sanctionwatch: error: {error}", file=sys.stderr)
        return 2
    except SanctionwatchError as error:
        print(f"sanctionwatch: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
