"""A Slack-compatible Web API and incoming-webhook server on 127.0.0.1, for tests.

Use ``server.api_url`` as slack_sdk ``WebClient(base_url=…)`` and ``server.webhook_url`` with
``WebhookClient``. It answers as Slack does: HTTP 200 with ``{"ok": false, "error": …}`` for API
errors, HTTP 429 with Retry-After when rate limited, Block Kit limits enforced, and it keeps
every posted message for assertions. Faults are injected with ``rate_limit_next``,
``rate_limit_above`` and ``fail_next``; ``post_delay`` slows every chat.postMessage (half before
the message is stored, half after, before the answer), so a client killed meanwhile may or may not
have posted.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from slack_blockkit import BlockKitError, validate_message

TOKEN = "xoxb-test-token"
WEBHOOK_PATH = "/services/T0TEST/B0TEST/secret"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
JSON_FIELDS = frozenset({"blocks", "attachments", "metadata"})


@dataclass
class Channel:
    id: str
    name: str
    is_member: bool = True
    is_archived: bool = False
    is_private: bool = False


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    via: str = "api"
    params: dict[str, Any] = field(default_factory=dict)

    def as_slack(self, include_metadata: bool) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": self.text,
            "blocks": self.blocks,
            "ts": self.ts,
        }
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if include_metadata and self.metadata:
            message["metadata"] = self.metadata
        return message


class ApiError(Exception):
    def __init__(self, error: str, status: int = 200) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


class SlackServer:
    """The state of a fake workspace, and the HTTP server answering for it."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.channels: dict[str, Channel] = {}
        self.messages: list[PostedMessage] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """Every request received, faulted or not: (API method or "webhook", parameters)."""
        self.webhooks: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._last_ts_micros = 0
        self._faults: deque[tuple[int, float | None]] = deque()
        self._rate_limit: tuple[int, float] | None = None
        self._recent: deque[float] = deque()
        self.post_delay = 0.0
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        for name in ("sanctions-dprk", "arms-transfers", "general"):
            self.add_channel(name)
        self.add_webhook(WEBHOOK_PATH, "sanctions-dprk")

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    def start(self) -> SlackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def add_channel(
        self, name: str, *, member: bool = True, archived: bool = False, private: bool = False
    ) -> Channel:
        channel = Channel(
            f"C{next(self._ids):07d}", name.removeprefix("#"), member, archived, private
        )
        with self._lock:
            self.channels[channel.id] = channel
        return channel

    def channel(self, name_or_id: str) -> Channel | None:
        key = name_or_id.removeprefix("#")
        with self._lock:
            return self.channels.get(key) or next(
                (c for c in self.channels.values() if c.name == key), None
            )

    def add_webhook(self, path: str, channel_name: str) -> str:
        self.webhooks[path] = channel_name
        return self.base_url + path

    def rate_limit_next(self, count: int, retry_after: float = 1) -> None:
        """Answer the next ``count`` requests with HTTP 429 and this Retry-After."""
        self._faults.extend([(429, retry_after)] * count)

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with this server error."""
        self._faults.extend([(status, None)] * count)

    def rate_limit_above(self, per_second: int, retry_after: float = 1) -> None:
        """Answer 429 to requests beyond ``per_second`` within any one-second window."""
        self._rate_limit = (per_second, retry_after)

    def alert_ids(self) -> list[int]:
        """The alert id carried in the metadata of every message posted through the API."""
        return [
            int(m.metadata["event_payload"]["alert_id"])
            for m in self.messages
            if m.metadata and "alert_id" in (m.metadata.get("event_payload") or {})
        ]

    def messages_in(self, channel: str) -> list[PostedMessage]:
        found = self.channel(channel)
        channel_id = found.id if found else channel
        return [m for m in self.messages if m.channel == channel_id]

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def next_ts(self) -> str:
        with self._lock:
            micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
            self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def take_fault(self) -> tuple[int, float | None] | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._rate_limit is None:
                return None
            per_second, retry_after = self._rate_limit
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1:
                self._recent.popleft()
            if len(self._recent) >= per_second:
                return (429, retry_after)
            self._recent.append(now)
            return None

    def record(self, method: str, params: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((method, params))

    def call(self, method: str, params: dict[str, Any], authorization: str | None) -> dict:
        token = (authorization or "").removeprefix("Bearer ").strip() or params.get("token")
        if not token:
            raise ApiError("not_authed")
        if token != self.token:
            raise ApiError("invalid_auth")
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            raise ApiError("unknown_method", 404)
        return {"ok": True, **handler(params)}

    def webhook(self, path: str, payload: dict[str, Any]) -> str:
        channel_name = self.webhooks.get(path)
        if channel_name is None:
            raise ApiError("no_service", 404)
        channel = self.channel(channel_name)
        if channel is None:
            raise ApiError("channel_not_found", 404)
        if channel.is_archived:
            raise ApiError("channel_is_archived", 410)
        try:
            self._validate_content(payload)
        except ApiError as error:
            raise ApiError(error.error, 400) from error
        self._store(channel, payload, via="webhook")
        return "ok"

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://sanctionwatch-test.slack.com/",
            "team": "Test",
            "user": "sanctionwatch",
            "team_id": "T0TEST",
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=True)
        if channel.is_archived:
            raise ApiError("is_archived")
        if not channel.is_member:
            raise ApiError("not_in_channel")
        self._validate_content(params)
        thread_ts = params.get("thread_ts") or None
        if thread_ts and not any(
            m.ts == thread_ts and m.channel == channel.id for m in self.messages
        ):
            raise ApiError("thread_not_found")
        metadata = params.get("metadata")
        if metadata is not None and (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload", {}), dict)
        ):
            raise ApiError("invalid_metadata_format")
        time.sleep(self.post_delay / 2)
        posted = self._store(channel, params, via="api")
        time.sleep(self.post_delay / 2)
        return {"channel": channel.id, "ts": posted.ts, "message": posted.as_slack(True)}

    def _api_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(params.get("channel"), by_name=False)
        if channel.is_archived:
            raise ApiError("is_archived")
        if channel.is_private:
            raise ApiError("method_not_supported_for_channel_type")
        channel.is_member = True
        return {"channel": self._describe(channel)}

    def _api_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            everything = list(self.channels.values())
        if _flag(params.get("exclude_archived")):
            everything = [c for c in everything if not c.is_archived]
        return self._page([self._describe(c) for c in everything], params, "channels")

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params)
        found = [
            m
            for m in self.messages
            if m.channel == channel.id and (m.thread_ts is None or m.thread_ts == m.ts)
        ]
        return self._message_page(found, params, newest_first=True)

    def _api_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params)
        parent = params.get("ts")
        found = [
            m
            for m in self.messages
            if m.channel == channel.id and (m.ts == parent or m.thread_ts == parent)
        ]
        if not found:
            raise ApiError("thread_not_found")
        return self._message_page(found, params, newest_first=False)

    def _readable(self, params: dict[str, Any]) -> Channel:
        channel = self._resolve(params.get("channel"), by_name=False)
        if not channel.is_member:
            raise ApiError("not_in_channel")
        return channel

    def _message_page(
        self, found: list[PostedMessage], params: dict[str, Any], *, newest_first: bool
    ) -> dict[str, Any]:
        oldest = float(params.get("oldest") or 0)
        latest = float(params["latest"]) if params.get("latest") else float("inf")
        inclusive = _flag(params.get("inclusive"))
        found = [
            m
            for m in found
            if (oldest <= float(m.ts) <= latest if inclusive else oldest < float(m.ts) < latest)
        ]
        found.sort(key=lambda m: float(m.ts), reverse=newest_first)
        with_metadata = _flag(params.get("include_all_metadata"))
        return self._page([m.as_slack(with_metadata) for m in found], params, "messages")

    def _page(self, items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        start = int(params.get("cursor") or 0)
        chunk = items[start : start + limit]
        more = start + limit < len(items)
        return {
            key: chunk,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _resolve(self, reference: Any, *, by_name: bool) -> Channel:
        if not isinstance(reference, str) or not reference:
            raise ApiError("channel_not_found")
        with self._lock:
            channel = self.channels.get(reference)
        if channel is None and by_name:
            channel = self.channel(reference)
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    @staticmethod
    def _describe(channel: Channel) -> dict[str, Any]:
        return {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_private,
            "is_private": channel.is_private,
            "is_archived": channel.is_archived,
            "is_member": channel.is_member,
        }

    def _validate_content(self, params: dict[str, Any]) -> None:
        try:
            validate_message(params.get("text"), params.get("blocks"))
        except BlockKitError as error:
            raise ApiError(error.error) from error

    def _store(self, channel: Channel, params: dict[str, Any], via: str) -> PostedMessage:
        posted = PostedMessage(
            channel=channel.id,
            ts=self.next_ts(),
            text=params.get("text") or "",
            blocks=list(params.get("blocks") or []),
            thread_ts=params.get("thread_ts") or None,
            metadata=params.get("metadata"),
            via=via,
            params=dict(params),
        )
        with self._lock:
            self.messages.append(posted)
        return posted


def _flag(value: Any) -> bool:
    return value in {True, "1", "true", "True"}


def _handler_for(server: SlackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            target = urlsplit(self.path)
            params = self._params(target.query)
            is_webhook = target.path.startswith("/services/")
            server.record("webhook" if is_webhook else target.path.removeprefix("/api/"), params)
            fault = server.take_fault()
            if fault is not None:
                status, retry_after = fault
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                error = "ratelimited" if status == 429 else "service_unavailable"
                if is_webhook:
                    self._reply(status, error, "text/plain", headers)
                else:
                    self._reply_json(status, {"ok": False, "error": error}, headers)
                return
            if is_webhook:
                try:
                    self._reply(200, server.webhook(target.path, params), "text/plain")
                except ApiError as error:
                    self._reply(error.status, error.error, "text/plain")
                return
            if not target.path.startswith("/api/"):
                self._reply(404, "not found", "text/plain")
                return
            method = target.path.removeprefix("/api/")
            try:
                body = server.call(method, params, self.headers.get("Authorization"))
            except ApiError as error:
                body = {"ok": False, "error": error.error}
                if error.status != 200:
                    self._reply_json(error.status, body)
                    return
            self._reply_json(200, body)

        def _params(self, query: str) -> dict[str, Any]:
            params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if kind == "application/json" and raw:
                decoded = json.loads(raw)
                params.update(decoded if isinstance(decoded, dict) else {})
            elif raw:
                form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
                params.update({k: v[-1] for k, v in form.items()})
            for name in JSON_FIELDS & params.keys():
                if isinstance(params[name], str):
                    try:
                        params[name] = json.loads(params[name])
                    except ValueError:
                        params[name] = None if name == "metadata" else "invalid"
            return params

        def _reply_json(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            self._reply(status, json.dumps(body), "application/json; charset=utf-8", headers)

        def _reply(
            self, status: int, text: str, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timed out, or was killed)

    return Handler


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    """A fresh Slack-compatible server per test; token ``TOKEN``, channels #sanctions-dprk,
    #arms-transfers, #general, and an incoming webhook posting to #sanctions-dprk."""
    with SlackServer() as server:
        yield server
