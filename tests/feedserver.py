"""A real HTTP server on 127.0.0.1 for feed tests: registered routes, conditional GET, gzip,
faults (hang, trickle, reset, endless or huge bodies, redirects), a latency per route, and a log
of every request.

Use the ``feed_server`` fixture, or ``with FeedServer() as server:``.
"""

from __future__ import annotations

import gzip
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FAULTS = frozenset({"hang", "hang_body", "trickle", "reset", "endless", "huge"})
_CHUNK = b"<!-- filler -->" * 4096


@dataclass(frozen=True)
class Route:
    """What the server answers on one path. ``fault`` is one of FAULTS or None."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    fault: str | None = None
    location: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.record(
            RecordedRequest(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}
            )
        )
        route = owner.route_for(self.path.split("?", 1)[0])
        with owner.in_flight():
            if route is not None and route.delay:
                owner.stopping.wait(route.delay)
            self._answer(route)

    def _answer(self, route: Route | None) -> None:
        if route is None:
            self._send(404, b"not found", "text/plain", ())
        elif route.fault is not None:
            self._fault(route)
        elif route.location is not None:
            self._send(route.status, b"", "text/plain", (("Location", route.location),))
        elif self._not_modified(route):
            self._send(304, b"", None, self._validators(route), include_length=False)
        else:
            body, extra = route.body, list(route.headers) + self._validators(route)
            if route.gzip and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body = gzip.compress(body)
                extra.append(("Content-Encoding", "gzip"))
            self._send(route.status, body, route.content_type, extra)

    def _validators(self, route: Route) -> list[tuple[str, str]]:
        found = []
        if route.etag:
            found.append(("ETag", route.etag))
        if route.last_modified:
            found.append(("Last-Modified", route.last_modified))
        return found

    def _not_modified(self, route: Route) -> bool:
        if route.status != 200:
            return False
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None and route.etag:
            return route.etag in [tag.strip() for tag in if_none_match.split(",")] or (
                if_none_match.strip() == "*"
            )
        since = self.headers.get("If-Modified-Since")
        if since and route.last_modified:
            try:
                return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: list[tuple[str, str]] | tuple[tuple[str, str], ...],
        *,
        include_length: bool = True,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if include_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _fault(self, route: Route) -> None:
        stopping = self.server.owner.stopping
        if route.fault == "hang":
            stopping.wait(120)
            self.close_connection = True
            return
        if route.fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.close_connection = True
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.fault == "huge":
            self.send_header("Content-Length", str(50 * 1024 * 1024))
        elif route.fault in ("trickle", "hang_body"):
            self.send_header("Content-Length", str(len(route.body) + 10_000))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            if route.fault == "trickle":
                while not stopping.is_set():
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    stopping.wait(1.0)
            elif route.fault == "hang_body":
                self.wfile.write(route.body)
                self.wfile.flush()
                stopping.wait(120)
            else:
                sent = 0
                limit = 50 * 1024 * 1024 if route.fault == "huge" else None
                while not stopping.is_set() and (limit is None or sent < limit):
                    self.wfile.write(_CHUNK)
                    sent += len(_CHUNK)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], OSError | ValueError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class FeedServer:
    """A threaded HTTP server on a loopback address (127.0.0.1 unless told) and ephemeral port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._active = 0
        self.most_at_once = 0
        """The largest number of requests the server was answering at the same time."""
        self.stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def route(self, path: str, route: Route) -> str:
        """Register ``route`` on ``path``; returns the full URL."""
        with self._lock:
            self._routes[path] = route
        return self.url(path)

    def serve(self, path: str, body: bytes | str, **options: object) -> str:
        """Serve ``body`` on ``path``; ``options`` are Route fields. Returns the full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self.route(path, Route(body=data, **options))  # type: ignore[arg-type]

    def serve_file(self, path: str, file: Path, **options: object) -> str:
        return self.serve(path, file.read_bytes(), **options)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.route(path, Route(status=status, location=location))

    def fault(self, path: str, fault: str, **options: object) -> str:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
        return self.route(path, Route(fault=fault, **options))  # type: ignore[arg-type]

    def route_for(self, path: str) -> Route | None:
        with self._lock:
            return self._routes.get(path)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._lock:
            self._active += 1
            self.most_at_once = max(self.most_at_once, self._active)
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]


def http_date(epoch_seconds: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch_seconds))


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer on 127.0.0.1, stopped after the test."""
    with FeedServer() as server:
        yield server
