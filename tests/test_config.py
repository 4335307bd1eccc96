"""Settings from the environment, secrets from files, durations, and masking."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from daemon.config import Settings, parse_duration
from daemon.errors import ConfigError


def test_defaults_need_no_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///sanctionwatch.db"
    assert settings.feeds_path == Path("feeds.yaml")
    assert settings.rules_path == Path("rules")
    assert settings.alert_mode == "console"
    assert settings.http_port == 8080


def test_secrets_come_from_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("xoxb-secret-value\n")
    url = tmp_path / "url"
    url.write_text("postgresql+psycopg://app:pw@db/sanctionwatch")
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN_FILE": str(token), "SANCTIONWATCH_DATABASE_URL_FILE": str(url)}
    )
    assert settings.slack_bot_token == "xoxb-secret-value"
    assert settings.database_url.endswith("@db/sanctionwatch")
    assert settings.alert_mode == "slack"
    shown = " ".join(settings.masked().values())
    assert "xoxb-secret-value" not in shown
    assert ":pw@" not in shown


def test_unreadable_secret_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN_FILE"):
        Settings.from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("45", timedelta(seconds=45)),
        (90, timedelta(seconds=90)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "ten minutes", "-5m", "0s", "5y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text, "SANCTIONWATCH_BACKFILL")


def test_bad_port() -> None:
    with pytest.raises(ConfigError, match="SANCTIONWATCH_HTTP_PORT"):
        Settings.from_env({"SANCTIONWATCH_HTTP_PORT": "http"})


def test_parser_processes_and_where_matching_happens() -> None:
    defaults = Settings.from_env({})
    assert (defaults.parse_processes, defaults.match_in) == (None, "auto")
    settings = Settings.from_env(
        {"SANCTIONWATCH_PARSE_PROCESSES": "0", "SANCTIONWATCH_MATCH_IN": "Daemon"}
    )
    assert (settings.parse_processes, settings.match_in) == (0, "daemon")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SANCTIONWATCH_PARSE_PROCESSES", "two"),
        ("SANCTIONWATCH_PARSE_PROCESSES", "-1"),
        ("SANCTIONWATCH_MATCH_IN", "gpu"),
    ],
)
def test_bad_parser_settings_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
