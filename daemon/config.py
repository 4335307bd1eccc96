"""One frozen Settings, read from the environment (SANCTIONWATCH_*), with *_FILE secrets."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from daemon.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float, setting: str = "duration") -> timedelta:
    """``30s``, ``10m``, ``1h``, ``2d``; a bare number means seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        found = _DURATION.match(str(text))
        if not found:
            raise ConfigError(setting, f"not a duration: {text!r} (use e.g. 30s, 10m, 1h)")
        seconds = float(found.group(1)) * _UNIT_SECONDS[(found.group(2) or "s").lower()]
    if seconds <= 0:
        raise ConfigError(setting, f"duration must be positive: {text!r}")
    return timedelta(seconds=seconds)


SEVERITIES = ("low", "medium", "high", "critical")
MATCH_IN = ("auto", "parsers", "daemon")
_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _keyed(raw: str | None, setting: str) -> tuple[tuple[str, str], ...]:
    """``high`` or ``#arms=low,dprk-luxury-goods=6h,medium``: ``key=value`` entries, and one bare
    value for everything not named (key ``*``)."""
    entries: list[tuple[str, str]] = []
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        key, sep, text = part.partition("=")
        key, text = (key.strip(), text.strip()) if sep else ("*", key.strip())
        if not key or not text:
            raise ConfigError(setting, f"not 'name=value' or a bare value: {part.strip()!r}")
        entries.append((key, text))
    return tuple(entries)


def _clock_time(raw: str | None, setting: str) -> tuple[int, int] | None:
    if raw is None:
        return None
    found = _CLOCK_TIME.match(raw)
    if not found:
        raise ConfigError(setting, f"not a time of day HH:MM (UTC): {raw!r}")
    return int(found.group(1)), int(found.group(2))


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///sanctionwatch.db"
    feeds_path: Path = Path("feeds.yaml")
    rules_path: Path = Path("rules")
    slack_bot_token: str | None = None
    slack_webhook_url: str | None = None
    slack_api_url: str | None = None
    slack_channel: str | None = None
    http_port: int = 8080
    http_timeout: timedelta = timedelta(seconds=20)
    max_body_bytes: int = 15 * 1024 * 1024
    backfill: timedelta = timedelta(hours=24)
    retention: timedelta = timedelta(days=90)
    allow_private_addresses: bool = False
    log_format: str = "auto"
    slack_min_severity: tuple[tuple[str, str], ...] = ()
    quiet: tuple[tuple[str, timedelta], ...] = ()
    slack_pace: timedelta = timedelta(seconds=1)
    delivery_lease: timedelta = timedelta(minutes=2)
    digest_at: tuple[int, int] | None = None
    replica_id: str | None = None
    claim_batch: int = 50
    claim_lease: timedelta = timedelta(seconds=60)
    poll_workers: int = 32
    parse_processes: int | None = None
    match_in: str = "auto"

    @property
    def alert_mode(self) -> str:
        if self.slack_bot_token:
            return "slack"
        if self.slack_webhook_url:
            return "webhook"
        return "console"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()

        def value(name: str) -> str | None:
            file_name = f"{name}_FILE"
            if env.get(file_name):
                try:
                    return Path(env[file_name]).read_text(encoding="utf-8").strip() or None
                except OSError as exc:
                    raise ConfigError(
                        file_name, f"cannot read {env[file_name]}: {exc.strerror}"
                    ) from None
            raw = env.get(name)
            return raw.strip() if raw and raw.strip() else None

        port_text = value("SANCTIONWATCH_HTTP_PORT")
        try:
            port = int(port_text) if port_text else defaults.http_port
        except ValueError:
            raise ConfigError(
                "SANCTIONWATCH_HTTP_PORT", f"not a port number: {port_text!r}"
            ) from None
        if not 0 <= port <= 65535:
            raise ConfigError("SANCTIONWATCH_HTTP_PORT", f"out of range: {port}")

        body_text = value("SANCTIONWATCH_MAX_BODY_BYTES")
        try:
            max_body = int(body_text) if body_text else defaults.max_body_bytes
        except ValueError:
            raise ConfigError(
                "SANCTIONWATCH_MAX_BODY_BYTES", f"not a number: {body_text!r}"
            ) from None

        def count(name: str, default: int) -> int:
            raw = value(name)
            try:
                number = int(raw) if raw else default
            except ValueError:
                raise ConfigError(name, f"not a number: {raw!r}") from None
            if number < 1:
                raise ConfigError(name, f"must be at least 1: {number}")
            return number

        replica_id = value("SANCTIONWATCH_REPLICA_ID")
        if replica_id is not None and len(replica_id) > 64:
            raise ConfigError("SANCTIONWATCH_REPLICA_ID", "at most 64 characters")

        def duration(name: str, default: timedelta) -> timedelta:
            raw = value(name)
            return parse_duration(raw, name) if raw else default

        def flag(name: str) -> bool:
            return (value(name) or "").lower() in {"1", "true", "yes", "on"}

        log_format = (value("SANCTIONWATCH_LOG_FORMAT") or "auto").lower()
        if log_format not in {"auto", "json", "text"}:
            raise ConfigError("SANCTIONWATCH_LOG_FORMAT", "must be auto, json or text")

        processes_text = value("SANCTIONWATCH_PARSE_PROCESSES")
        try:
            parse_processes = int(processes_text) if processes_text else None
        except ValueError:
            raise ConfigError(
                "SANCTIONWATCH_PARSE_PROCESSES", f"not a number: {processes_text!r}"
            ) from None
        if parse_processes is not None and parse_processes < 0:
            raise ConfigError("SANCTIONWATCH_PARSE_PROCESSES", "must be 0 or more")

        match_in = (value("SANCTIONWATCH_MATCH_IN") or "auto").lower()
        if match_in not in MATCH_IN:
            raise ConfigError("SANCTIONWATCH_MATCH_IN", f"must be {', '.join(MATCH_IN)}")

        severities = _keyed(
            value("SANCTIONWATCH_SLACK_MIN_SEVERITY"), "SANCTIONWATCH_SLACK_MIN_SEVERITY"
        )
        for _channel, level in severities:
            if level.lower() not in SEVERITIES:
                raise ConfigError(
                    "SANCTIONWATCH_SLACK_MIN_SEVERITY",
                    f"unknown severity {level!r} (use {', '.join(SEVERITIES)})",
                )
        quiet = tuple(
            (rule, parse_duration(text, "SANCTIONWATCH_QUIET"))
            for rule, text in _keyed(value("SANCTIONWATCH_QUIET"), "SANCTIONWATCH_QUIET")
        )

        return cls(
            database_url=value("SANCTIONWATCH_DATABASE_URL") or defaults.database_url,
            feeds_path=Path(value("SANCTIONWATCH_FEEDS") or defaults.feeds_path),
            rules_path=Path(value("SANCTIONWATCH_RULES") or defaults.rules_path),
            slack_bot_token=value("SLACK_BOT_TOKEN"),
            slack_webhook_url=value("SLACK_WEBHOOK_URL"),
            slack_api_url=value("SANCTIONWATCH_SLACK_API_URL"),
            slack_channel=value("SANCTIONWATCH_SLACK_CHANNEL"),
            http_port=port,
            http_timeout=duration("SANCTIONWATCH_HTTP_TIMEOUT", defaults.http_timeout),
            max_body_bytes=max_body,
            backfill=duration("SANCTIONWATCH_BACKFILL", defaults.backfill),
            retention=duration("SANCTIONWATCH_RETENTION", defaults.retention),
            allow_private_addresses=flag("SANCTIONWATCH_ALLOW_PRIVATE_ADDRESSES"),
            log_format=log_format,
            slack_min_severity=tuple((k, v.lower()) for k, v in severities),
            quiet=quiet,
            slack_pace=duration("SANCTIONWATCH_SLACK_PACE", defaults.slack_pace),
            delivery_lease=duration("SANCTIONWATCH_DELIVERY_LEASE", defaults.delivery_lease),
            digest_at=_clock_time(value("SANCTIONWATCH_DIGEST_AT"), "SANCTIONWATCH_DIGEST_AT"),
            replica_id=replica_id,
            claim_batch=count("SANCTIONWATCH_CLAIM_BATCH", defaults.claim_batch),
            claim_lease=duration("SANCTIONWATCH_CLAIM_LEASE", defaults.claim_lease),
            poll_workers=count("SANCTIONWATCH_POLL_WORKERS", defaults.poll_workers),
            parse_processes=parse_processes,
            match_in=match_in,
        )

    def masked(self) -> dict[str, str]:
        """Settings as text for logs and status, with secrets masked."""
        shown: dict[str, str] = {}
        for name, val in self.__dict__.items():
            if val is None:
                continue
            text = str(val)
            if name in {"slack_bot_token", "slack_webhook_url"}:
                text = text[:6] + "…" if len(text) > 6 else "…"
            elif name == "database_url":
                text = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", text)
            shown[name] = text
        return shown
