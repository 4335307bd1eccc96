"""Which hits of an alert a channel wants: a minimum severity per channel, a quiet window per
rule. Pure; the settings come from SANCTIONWATCH_SLACK_MIN_SEVERITY and SANCTIONWATCH_QUIET."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from daemon.models import SEVERITY_RANK, Hit

ANY_CHANNEL = "*"
"""The key for every channel (or rule) not named in a setting."""


def _channel_key(channel: str | None) -> str:
    return (channel or "").strip().removeprefix("#").casefold()


@dataclass(frozen=True)
class Routing:
    min_severity: Mapping[str, str] = field(default_factory=dict)
    """Channel (with or without ``#``) or ``*`` → the lowest severity posted there."""
    quiet: Mapping[str, timedelta] = field(default_factory=dict)
    """Rule id or ``*`` → how long after a rule alerted on an event it stays quiet on it."""

    def minimum_for(self, channel: str | None) -> str:
        wanted = {_channel_key(name): level for name, level in self.min_severity.items()}
        return wanted.get(_channel_key(channel), wanted.get(ANY_CHANNEL, "low"))

    def wanted_hits(self, hits: tuple[Hit, ...], channel: str | None) -> tuple[Hit, ...]:
        floor = SEVERITY_RANK.get(self.minimum_for(channel).lower(), 0)
        return tuple(h for h in hits if SEVERITY_RANK.get(h.severity.lower(), 0) >= floor)

    def quiet_for(self, rule_id: str) -> timedelta:
        return self.quiet.get(rule_id, self.quiet.get(ANY_CHANNEL, timedelta(0)))

    def quieted_rules(
        self, hits: tuple[Hit, ...], alerted: Mapping[str, datetime], now: datetime
    ) -> tuple[str, ...] | None:
        """The rules that keep an alert quiet, when every one of its hits is inside its rule's
        quiet window (the rule already alerted on this event that recently); else None."""
        quiet: list[str] = []
        for hit in hits:
            window = self.quiet_for(hit.rule_id)
            last = alerted.get(hit.rule_id)
            if not window or last is None or now - last >= window:
                return None
            quiet.append(hit.rule_id)
        return tuple(quiet) or None
