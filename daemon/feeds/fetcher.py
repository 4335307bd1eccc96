"""HTTP polling of feeds and article pages. The only module that imports httpx (and httpcore)."""

from __future__ import annotations

import contextlib
import socket
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from daemon import __version__
from daemon.errors import FeedError
from daemon.feeds.addresses import (
    BlockedAddressError,
    IPNetwork,
    parse_networks,
    public_addresses,
)
from daemon.feeds.deadlines import Alarm, AlarmClock
from daemon.models import FetchResult, FetchState

MiB = 1024 * 1024
DEFAULT_USER_AGENT = (
    f"sanctionwatch/{__version__} (+https://github.com/sanctionwatch/sanctionwatch)"
)
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
ARTICLE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_FEED_CLIENT_SHARDS = 8


class _PublicOnlyBackend(httpcore.NetworkBackend):
    """Resolves each host itself and connects only to public addresses, so the check holds for
    every redirect hop and cannot be bypassed by a DNS answer that changes between check and use."""

    def __init__(self, allowed: tuple[IPNetwork, ...]) -> None:
        self._inner = httpcore.SyncBackend()
        self._allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = public_addresses(host, port, self._allowed)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedAddressError(path, path)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PublicOnlyTransport(httpx.HTTPTransport):
    def __init__(self, limits: httpx.Limits, allowed: tuple[IPNetwork, ...]) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PublicOnlyBackend(allowed),
        )


_ALARMS = AlarmClock()


class _Watchdog:
    """Shuts the response's socket down at the deadline, so that a read blocked on a server
    that stopped sending returns at once instead of after the read timeout."""

    def __init__(self, response: httpx.Response, seconds: float) -> None:
        self.fired = False
        stream = response.extensions.get("network_stream")
        self._socket = stream.get_extra_info("socket") if stream is not None else None
        self._seconds = seconds
        self._alarm: Alarm | None = None

    def _fire(self) -> None:
        self.fired = True
        if isinstance(self._socket, socket.socket):
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._alarm = _ALARMS.set(self._seconds, self._fire)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._alarm is not None:
            self._alarm.cancelled = True


@dataclass(frozen=True)
class _Download:
    status: int
    body: bytes | None
    headers: dict[str, str]
    final_url: str
    permanent_url: str | None


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from ``now`` (delta-seconds or an HTTP date); None if invalid."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _transport_failure(url: str, exc: Exception, timeout: float) -> FeedError:
    if isinstance(exc, BlockedAddressError):
        return FeedError(url, "blocked_address", str(exc))
    if isinstance(exc, httpx.TimeoutException):
        return FeedError(url, "timeout", f"no answer within {timeout:g}s ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return FeedError(url, "connect", f"cannot connect: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.DecodingError):
        return FeedError(url, "decode", f"cannot decode the response: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FeedError(url, "invalid_url", str(exc))
    return FeedError(url, "connect", f"connection broken: {exc or type(exc).__name__}")


class Fetcher:
    """A thread-safe HTTP client for feeds and article pages. Close it when done.

    ``timeout`` bounds a whole fetch (all redirects and the body); ``connect_timeout`` each
    connection attempt. Article links (``fetch_article``) may only reach public addresses unless
    ``allow_private_addresses``; feed URLs, chosen by the operator, are checked the same way only
    with ``check_feed_addresses``. ``allowed_networks`` (CIDR strings) are exempt from the check,
    e.g. an internal mirror.
    """

    def __init__(
        self,
        timeout: float = 20.0,
        max_body_bytes: int = 15 * MiB,
        user_agent: str = DEFAULT_USER_AGENT,
        allow_private_addresses: bool = False,
        max_redirects: int = 5,
        *,
        check_feed_addresses: bool = False,
        connect_timeout: float = 10.0,
        max_connections: int = 100,
        allowed_networks: Iterable[str] = (),
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        headers = {"User-Agent": user_agent}
        networks = parse_networks(allowed_networks)

        def client(guarded: bool) -> httpx.Client:
            if not guarded:
                return httpx.Client(
                    headers=headers, follow_redirects=False, trust_env=False, limits=limits
                )
            return httpx.Client(
                headers=headers,
                follow_redirects=False,
                trust_env=False,
                transport=_PublicOnlyTransport(limits, networks),
            )

        self._article_client = client(not allow_private_addresses)
        guard_feeds = check_feed_addresses and not allow_private_addresses
        self._feed_clients = [client(guard_feeds) for _ in range(_FEED_CLIENT_SHARDS)]

    def _feed_client(self, url: str) -> httpx.Client:
        """Feeds are spread over several clients by host, so that no connection pool (each
        scanned under one lock on every request) holds the connections of every host."""
        host = (urlsplit(url).hostname or "").encode()
        return self._feed_clients[zlib.crc32(host) % len(self._feed_clients)]

    def close(self) -> None:
        for client in (*self._feed_clients, self._article_client):
            client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(self, url: str, state: FetchState | None = None) -> FetchResult:
        """One conditional GET of a feed. A 304 answer gives ``status=304, body=None``.

        Raises FeedError: timeout, connect, blocked_address, invalid_url, redirects, too_large,
        decode, rate_limited (429, or 503 with Retry-After; ``retry_after`` set), http_status.
        """
        state = state or FetchState()
        headers = {"Accept": FEED_ACCEPT}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        download = self._download(self._feed_client(url), url, headers)
        if download.status == 304:
            new_state = FetchState(
                etag=download.headers.get("etag") or state.etag,
                last_modified=download.headers.get("last-modified") or state.last_modified,
            )
        else:
            new_state = FetchState(
                etag=download.headers.get("etag"),
                last_modified=download.headers.get("last-modified"),
            )
        return FetchResult(
            url=url,
            status=download.status,
            body=download.body,
            headers=download.headers,
            state=new_state,
            final_url=download.final_url,
            permanent_url=download.permanent_url,
        )

    def fetch_article(self, url: str) -> str:
        """The main text of the page at ``url`` (a link taken from a feed), or "" if the page
        has none. Only public addresses are contacted unless ``allow_private_addresses``."""
        download = self._download(self._article_client, url, {"Accept": ARTICLE_ACCEPT})
        content_type = download.headers.get("content-type", "").lower()
        if not download.body or (
            content_type and not any(kind in content_type for kind in ("html", "xml", "text/plain"))
        ):
            return ""
        from daemon.feeds.fulltext import extract_article_text  # slow import, needed only here

        return extract_article_text(download.body, download.final_url)

    def _download(self, client: httpx.Client, url: str, headers: Mapping[str, str]) -> _Download:
        deadline = time.monotonic() + self.timeout
        current = url
        permanent_url: str | None = None
        still_permanent = True
        for _ in range(self.max_redirects + 1):
            if urlsplit(current).scheme.lower() not in ("http", "https"):
                raise FeedError(url, "invalid_url", f"not an http(s) URL: {current}")
            response = self._send(client, url, current, headers, deadline)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECT_STATUSES and location:
                    current = urljoin(str(response.url), location.strip())
                    still_permanent = still_permanent and (
                        response.status_code in _PERMANENT_REDIRECTS
                    )
                    if still_permanent:
                        permanent_url = current
                    continue
                self._check_status(url, response)
                body = None if response.status_code == 304 else self._read(url, response, deadline)
                return _Download(
                    status=response.status_code,
                    body=body,
                    headers=dict(response.headers),
                    final_url=str(response.url),
                    permanent_url=permanent_url,
                )
            finally:
                response.close()
        raise FeedError(url, "redirects", f"more than {self.max_redirects} redirects")

    def _send(
        self,
        client: httpx.Client,
        url: str,
        current: str,
        headers: Mapping[str, str],
        deadline: float,
    ) -> httpx.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FeedError(url, "timeout", f"no complete answer within {self.timeout:g}s")
        timeout = httpx.Timeout(remaining, connect=min(self.connect_timeout, remaining))
        try:
            request = client.build_request("GET", current, headers=headers, timeout=timeout)
            return client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, BlockedAddressError) as exc:
            raise _transport_failure(url, exc, self.timeout) from exc

    def _check_status(self, url: str, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300 or status == 304:
            return
        retry_after = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
        if status == 429 or (status == 503 and retry_after is not None):
            waited = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            raise FeedError(url, "rate_limited", f"HTTP {status}{waited}", retry_after=retry_after)
        reason = response.reason_phrase or ""
        raise FeedError(url, "http_status", f"HTTP {status} {reason}".strip())

    def _read(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large(url, f"Content-Length {declared}")
        chunks: list[bytes] = []
        size = 0
        with _Watchdog(response, deadline - time.monotonic()) as watchdog:
            try:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise self._too_large(url, f"more than {size} bytes")
                    if time.monotonic() > deadline:
                        break
                    chunks.append(chunk)
            except httpx.HTTPError as exc:
                if not watchdog.fired:
                    raise _transport_failure(url, exc, self.timeout) from exc
        if watchdog.fired or time.monotonic() > deadline:
            raise FeedError(url, "timeout", f"body not complete within {self.timeout:g}s")
        return b"".join(chunks)

    def _too_large(self, url: str, what: str) -> FeedError:
        limit = self.max_body_bytes
        return FeedError(url, "too_large", f"body exceeds {limit} bytes ({what})")
