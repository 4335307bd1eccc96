"""Comparing what a rule set would alert on with what was alerted (``rules backtest``)."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoryChange:
    """A story whose alerting changes, with the rules behind the alert it gains or loses."""

    story_id: str
    title: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class BacktestReport:
    examined: int
    would_alert: int
    alerted: int
    newly_alerting: tuple[StoryChange, ...]
    no_longer_alerting: tuple[StoryChange, ...]

    def to_json_lines(self) -> list[dict[str, Any]]:
        """A summary line, then one line per story that changes (``rules backtest`` jsonl)."""
        lines: list[dict[str, Any]] = [
            {
                "type": "summary",
                "examined": self.examined,
                "would_alert": self.would_alert,
                "alerted": self.alerted,
                "newly_alerting": len(self.newly_alerting),
                "no_longer_alerting": len(self.no_longer_alerting),
            }
        ]
        for kind, changes in (
            ("newly_alerting", self.newly_alerting),
            ("no_longer_alerting", self.no_longer_alerting),
        ):
            lines += [
                {"type": kind, "id": c.story_id, "title": c.title, "rules": list(c.rules)}
                for c in changes
            ]
        return lines


def compare_alerts(
    titles: Mapping[str, str],
    would_alert: Mapping[str, Set[str]],
    alerted: Mapping[str, Set[str]],
) -> BacktestReport:
    """Compare two hit sets (story id -> alerting rule ids) over the examined stories
    (``titles``: story id -> title, in the order to report them). Entries for stories that
    were not examined, and empty rule sets, are ignored."""
    would = {story: set(would_alert.get(story, ())) for story in titles}
    before = {story: set(alerted.get(story, ())) for story in titles}
    newly = tuple(
        StoryChange(story, title, tuple(sorted(would[story])))
        for story, title in titles.items()
        if would[story] and not before[story]
    )
    gone = tuple(
        StoryChange(story, title, tuple(sorted(before[story])))
        for story, title in titles.items()
        if before[story] and not would[story]
    )
    return BacktestReport(
        examined=len(titles),
        would_alert=sum(1 for rules in would.values() if rules),
        alerted=sum(1 for rules in before.values() if rules),
        newly_alerting=newly,
        no_longer_alerting=gone,
    )
