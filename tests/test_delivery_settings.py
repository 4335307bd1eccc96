"""Delivery settings: minimum severity per channel, quiet windows, pace, lease, digest time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from daemon.config import Settings
from daemon.errors import ConfigError


def test_delivery_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "SANCTIONWATCH_SLACK_MIN_SEVERITY": "#arms-transfers=high, medium",
            "SANCTIONWATCH_QUIET": "dprk-luxury-goods=6h,30m",
            "SANCTIONWATCH_SLACK_PACE": "500ms",
            "SANCTIONWATCH_DELIVERY_LEASE": "1m",
            "SANCTIONWATCH_DIGEST_AT": "08:05",
        }
    )
    assert settings.slack_min_severity == (("#arms-transfers", "high"), ("*", "medium"))
    assert settings.quiet == (
        ("dprk-luxury-goods", timedelta(hours=6)),
        ("*", timedelta(minutes=30)),
    )
    assert settings.slack_pace == timedelta(milliseconds=500)
    assert settings.delivery_lease == timedelta(minutes=1)
    assert settings.digest_at == (8, 5)
    assert Settings.from_env({}).digest_at is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SANCTIONWATCH_SLACK_MIN_SEVERITY", "urgent"),
        ("SANCTIONWATCH_SLACK_MIN_SEVERITY", "#arms="),
        ("SANCTIONWATCH_QUIET", "rule=soon"),
        ("SANCTIONWATCH_DIGEST_AT", "25:00"),
        ("SANCTIONWATCH_DIGEST_AT", "8am"),
    ],
)
def test_bad_delivery_settings_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
