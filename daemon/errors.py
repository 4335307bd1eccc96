"""The one error hierarchy; every error names its context (setting, feed URL, file and line)."""

from __future__ import annotations


class SanctionwatchError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(SanctionwatchError):
    """A setting is missing or invalid. The CLI exits 2 with this one-line message."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


class FeedListError(ConfigError):
    """The feed list (YAML or OPML) cannot be read or is invalid."""


class FeedError(SanctionwatchError):
    """One feed could not be fetched or parsed; contained to that feed.

    ``kind`` is a short, stable label used in metrics and status: timeout, connect,
    http_status, too_large, not_a_feed, empty, parse, blocked_address, rate_limited, …
    """

    def __init__(self, url: str, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{url}: {kind}: {message}")
        self.url = url
        self.kind = kind
        self.detail = message
        self.retry_after = retry_after


class RuleProblem(SanctionwatchError):
    """One mistake in a rule or list file, reported as ``PATH:LINE: message``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.detail = message


class RuleLoadError(SanctionwatchError):
    """A rule set could not be loaded; carries every problem found, not only the first."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class StoreError(SanctionwatchError):
    """The database cannot be reached or migrated."""


class DeliveryError(SanctionwatchError):
    """An alert could not be delivered.

    ``permanent`` errors (invalid_auth, channel_not_found, …) are not retried;
    others are retried with backoff, honouring ``retry_after`` when Slack gives one.
    """

    def __init__(
        self,
        channel: str,
        error: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{channel}: {error}")
        self.channel = channel
        self.error = error
        self.permanent = permanent
        self.retry_after = retry_after
