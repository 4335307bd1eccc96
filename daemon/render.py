"""Tables and JSON for the read-only commands (hits, status, feeds list). The only rich importer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TextIO

from rich.console import Console
from rich.table import Table

from daemon.store import FeedHealth, HitRecord, StatusReport


def _when(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "-"
    text = value.strftime("%Y-%m-%d %H:%M UTC")
    if now is not None:
        text += f" ({relative(value, now)})"
    return text


def relative(value: datetime, now: datetime) -> str:
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "now"


def _console(out: TextIO) -> Console:
    return Console(file=out, width=160 if not out.isatty() else None, highlight=False)


def _json_default(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def render_hits(records: Sequence[HitRecord], fmt: str, out: TextIO) -> None:
    if fmt == "jsonl":
        for record in records:
            line = {
                "recorded_at": record.recorded_at,
                "story": {
                    "id": record.story.id,
                    "title": record.story.title,
                    "link": record.story.link,
                    "feed": record.story.feed_url,
                    "published": record.story.published,
                },
                "rule": record.hit.rule_id,
                "category": record.hit.category,
                "severity": record.hit.severity,
                "channel": record.hit.channel,
                "alert": record.alert_status,
                "matches": [asdict(m) for m in record.hit.matches],
            }
            out.write(json.dumps(line, ensure_ascii=False, default=_json_default) + "\n")
        return
    table = Table(title=f"{len(records)} hits")
    for column in ("when", "rule", "category", "severity", "alert", "story"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            _when(record.recorded_at),
            record.hit.rule_id,
            record.hit.category,
            record.hit.severity,
            record.alert_status or "-",
            f"{record.story.title}\n{record.story.link or ''}",
        )
    _console(out).print(table)


def feeds_table(feeds: Sequence[FeedHealth], now: datetime, configured: set[str] | None) -> Table:
    table = Table(title=f"{len(feeds)} feeds")
    for column in ("feed", "health", "last success", "last error", "next poll", "stories"):
        table.add_column(column, overflow="fold")
    for feed in feeds:
        health = "ok"
        if feed.consecutive_failures:
            state = "failing" if feed.healthy else "UNHEALTHY, failing"
            health = f"{state} ×{feed.consecutive_failures}"
        if feed.last_polled_at is None:
            health = "not polled yet"
        if configured is not None and feed.url not in configured:
            health += " (not in feed list)"
        error = f"{feed.last_error_kind}: {feed.last_error}" if feed.last_error else "-"
        label = f"{feed.name or ''}\n{feed.url}" if feed.name else feed.url
        if feed.moved_to:
            label += f"\nmoved to {feed.moved_to} (update the feed list)"
        table.add_row(
            label,
            health,
            _when(feed.last_success_at, now),
            error,
            _when(feed.next_poll_at, now),
            str(feed.stories_seen),
        )
    return table


def render_feeds(
    feeds: Sequence[FeedHealth], fmt: str, out: TextIO, now: datetime, configured: set[str]
) -> None:
    if fmt == "json":
        data = [
            asdict(f) | {"healthy": f.healthy, "configured": f.url in configured} for f in feeds
        ]
        out.write(json.dumps(data, ensure_ascii=False, default=_json_default, indent=2) + "\n")
        return
    _console(out).print(feeds_table(feeds, now, configured))


def render_status(report: StatusReport, fmt: str, out: TextIO, now: datetime) -> None:
    if fmt == "json":
        data = {
            "feeds": [asdict(f) | {"healthy": f.healthy} for f in report.feeds],
            "outbox": report.outbox,
            "last_cycle": asdict(report.last_cycle) if report.last_cycle else None,
            "failed_alerts": [asdict(a) for a in report.failed_alerts],
            "replicas": [asdict(r) for r in report.replicas],
        }
        out.write(json.dumps(data, ensure_ascii=False, default=_json_default, indent=2) + "\n")
        return
    console = _console(out)
    unhealthy = sum(not f.healthy for f in report.feeds)
    failing = sum(f.consecutive_failures > 0 for f in report.feeds)
    console.print(f"feeds: {len(report.feeds)} ({failing} failing, {unhealthy} unhealthy)")
    outbox = ", ".join(f"{k} {v}" for k, v in sorted(report.outbox.items()))
    console.print(f"outbox: {outbox}")
    cycle = report.last_cycle
    if cycle is None:
        console.print("last cycle: none yet")
    else:
        console.print(
            f"last cycle: {_when(cycle.started_at, now)}, "
            f"{(cycle.finished_at - cycle.started_at).total_seconds():.1f}s, "
            f"{cycle.feeds_polled} feeds ({cycle.feeds_failed} failed), "
            f"{cycle.stories_new} new stories, {cycle.hits_new} hits, "
            f"{cycle.alerts_sent} alerts sent"
        )
    for replica in report.replicas:
        state = (
            "stopped"
            if replica.stopped_at
            else f"alive, heartbeat {_when(replica.heartbeat_at, now)}"
        )
        console.print(
            f"replica {replica.id} ({replica.version}): {state}; {replica.rules_loaded} rules "
            f"loaded {_when(replica.rules_loaded_at, now)}"
        )
        if replica.rule_errors:
            console.print(
                f"  rule errors (previous rules still in force):\n  {replica.rule_errors}"
            )
    if report.failed_alerts:
        table = Table(title="failed alerts")
        for column in ("alert", "rule", "channel", "reason", "story"):
            table.add_column(column, overflow="fold")
        for alert in report.failed_alerts:
            table.add_row(
                str(alert.id),
                alert.rule_id,
                alert.channel or "-",
                alert.error or "-",
                alert.story_title,
            )
        console.print(table)
    if report.feeds:
        console.print(feeds_table(report.feeds, now, None))
