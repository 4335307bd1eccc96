"""Posting to Slack: the Web API (bot token) and incoming webhooks. The only slack_sdk importer.

slack_sdk's own retry handlers are switched off (``retry_handlers=[]``). The outbox owns retries:
it persists the attempt count, honours Retry-After across restarts and checks ``find_posted``
before re-posting. A hidden in-client retry would sleep inside a delivery pass on 429, and its
connection-error retry could post the same alert twice when the first request did reach Slack.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web import SlackResponse, WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

from daemon.alerts.formatter import METADATA_EVENT_TYPE, Message
from daemon.errors import DeliveryError
from daemon.models import Delivery

DEFAULT_TIMEOUT = 20.0
HISTORY_PAGE = 200
MAX_HISTORY_PAGES = 20

PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "org_login_required",
        "ekm_access_denied",
        "enterprise_is_restricted",
        "team_access_not_granted",
        "two_factor_setup_required",
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "method_not_supported_for_channel_type",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "no_text",
        "too_many_attachments",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_form_data",
        "invalid_json",
        "json_not_object",
        "invalid_charset",
        "invalid_post_type",
        "missing_post_type",
        "method_deprecated",
        "deprecated_endpoint",
        "unknown_method",
        "as_user_not_supported",
        "posting_to_general_channel_denied",
        "invalid_payload",
        "invalid_token",
        "action_prohibited",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "user_not_found",
        "channel_is_archived",
        "no_active_hooks",
    }
)
"""Errors that another attempt cannot fix: the operator must change a token, a scope or a rule."""

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_Result = TypeVar("_Result")


def classify_error(
    channel: str, status: int, error: str, retry_after_header: str | None
) -> DeliveryError:
    """Turn an HTTP status and Slack error code into a DeliveryError, permanent or not."""
    if status == 429 or error in {"ratelimited", "rate_limited"}:
        return DeliveryError(
            channel,
            error or "ratelimited",
            permanent=False,
            retry_after=_seconds(retry_after_header),
        )
    if status >= 500 or status in {408, 0}:
        return DeliveryError(channel, error or f"http_{status}", permanent=False)
    if error in PERMANENT_ERRORS:
        return DeliveryError(channel, error, permanent=True)
    if 400 <= status < 500:
        return DeliveryError(channel, error or f"http_{status}", permanent=True)
    return DeliveryError(channel, error or "unknown_error", permanent=False)


def _seconds(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        value = float(header.strip())
    except ValueError:
        return None
    return max(value, 0.0)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else str(value)
    return None


def _call(target: str, method: Callable[..., _Result], /, **arguments: Any) -> _Result:
    """Run one slack_sdk request, turning every failure into a DeliveryError."""
    try:
        return method(**arguments)
    except SlackApiError as failure:
        response = failure.response
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error") or "")
        raise classify_error(
            target, response.status_code, error, _header(response.headers, "retry-after")
        ) from failure
    except SlackRequestError as failure:
        raise DeliveryError(target, f"bad request: {failure}", permanent=True) from failure
    except (OSError, http.client.HTTPException, SlackClientError) as failure:
        timed_out = isinstance(failure, TimeoutError) or isinstance(
            getattr(failure, "reason", None), TimeoutError
        )
        kind = "timeout" if timed_out else "connection"
        raise DeliveryError(target, f"{kind}: {failure}", permanent=False) from failure


class SlackSender:
    """Posts with a bot token through the Web API; returns the message ts for threading."""

    can_look_back = True

    def __init__(
        self, token: str, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        options: dict[str, Any] = {"token": token, "timeout": timeout, "retry_handlers": []}
        if base_url:
            options["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
        self.client = WebClient(**options)
        self._channel_ids: dict[str, str] = {}

    def send(self, message: Message, channel: str, thread_ts: str | None = None) -> Delivery:
        try:
            return self._post(message, channel, thread_ts)
        except DeliveryError as error:
            if error.error != "not_in_channel":
                raise
        channel_id = self.channel_id(channel)
        _call(channel, self.client.conversations_join, channel=channel_id)
        return self._post(message, channel_id, thread_ts, reported_as=channel)

    def verify(self) -> dict[str, str]:
        """Check the token with auth.test: the workspace and bot user it belongs to."""
        response: SlackResponse = _call("auth.test", self.client.auth_test)
        return {key: str(response.get(key) or "") for key in ("team", "team_id", "user", "user_id")}

    def find_posted(
        self,
        channel: str,
        alert_id: int | str,
        oldest: datetime | float | str | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        """The ts of a message in ``channel`` already carrying ``alert_id``, if any.

        Searches the channel history (or the replies of ``thread_ts``) back to ``oldest``,
        reading message metadata. Used after a crash between posting and recording.
        """
        channel_id = self.channel_id(channel)
        for message in self._history(channel, channel_id, _slack_ts(oldest), thread_ts):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT_TYPE and str(
                payload.get("alert_id")
            ) == str(alert_id):
                return str(message["ts"])
        return None

    def find_delivery(
        self, channel: str, alert_id: int, oldest: datetime, thread_ts: str | None = None
    ) -> Delivery | None:
        try:
            ts = self.find_posted(channel, alert_id, oldest=oldest, thread_ts=thread_ts)
        except DeliveryError as error:
            if error.error in {"not_in_channel", "thread_not_found"}:
                return None  # the bot cannot have posted there
            raise
        return Delivery(self.channel_id(channel), ts) if ts else None

    def channel_id(self, channel: str) -> str:
        """Resolve ``#name`` or ``name`` to a channel id (needed by join and history)."""
        name = channel.strip().removeprefix("#")
        if _CHANNEL_ID.match(name):
            return name
        if name not in self._channel_ids:
            self._channel_ids.update(self._list_channels(channel))
        if name not in self._channel_ids:
            raise DeliveryError(channel, "channel_not_found", permanent=True)
        return self._channel_ids[name]

    def _post(
        self,
        message: Message,
        channel: str,
        thread_ts: str | None,
        reported_as: str | None = None,
    ) -> Delivery:
        response: SlackResponse = _call(
            reported_as or channel,
            self.client.chat_postMessage,
            channel=channel,
            text=message.text,
            blocks=list(message.blocks),
            metadata=message.metadata or None,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
        return Delivery(str(response.get("channel") or channel), str(response["ts"]))

    def _list_channels(self, channel: str) -> dict[str, str]:
        found: dict[str, str] = {}
        cursor: str | None = None
        for _ in range(MAX_HISTORY_PAGES):
            page: SlackResponse = _call(
                channel,
                self.client.conversations_list,
                types="public_channel,private_channel",
                exclude_archived=False,
                limit=1000,
                cursor=cursor,
            )
            for entry in page.get("channels") or []:
                found[str(entry["name"])] = str(entry["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return found

    def _history(
        self, channel: str, channel_id: str, oldest: str | None, thread_ts: str | None
    ) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        for _ in range(MAX_HISTORY_PAGES):
            arguments: dict[str, Any] = {
                "channel": channel_id,
                "limit": HISTORY_PAGE,
                "include_all_metadata": True,
                "cursor": cursor,
            }
            if oldest is not None:
                arguments["oldest"] = oldest
            if thread_ts:
                page: SlackResponse = _call(
                    channel, self.client.conversations_replies, ts=thread_ts, **arguments
                )
            else:
                page = _call(channel, self.client.conversations_history, **arguments)
            yield from page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not page.get("has_more", True):
                return


def _slack_ts(moment: datetime | float | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    seconds = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    return f"{seconds:.6f}"


class WebhookSender:
    """Posts through an incoming webhook: the channel is fixed by the URL and no ts comes back,
    so it can neither reply in a thread nor look for a message it posted before."""

    can_look_back = False

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.client = WebhookClient(url=url, timeout=timeout, retry_handlers=[])

    def send(self, message: Message, channel: str, thread_ts: str | None = None) -> Delivery:
        response: WebhookResponse = _call(
            channel,
            self.client.send,
            text=message.text,
            blocks=list(message.blocks),
            unfurl_links=False,
            unfurl_media=False,
        )
        if response.status_code == 200:
            return Delivery(channel, None)
        error = (response.body or "").strip()[:200]
        raise classify_error(
            channel, response.status_code, error, _header(response.headers, "retry-after")
        )

    def find_delivery(
        self, channel: str, alert_id: int, oldest: datetime, thread_ts: str | None = None
    ) -> Delivery | None:
        return None
