"""The daemon's HTTP endpoint: /healthz, /readyz and /metrics.

Three read-only GET routes need no web framework; the standard library's threading server
keeps the container small and adds no dependency.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probe:
    ok: bool
    checks: dict[str, str] = field(default_factory=dict)


class HealthServer:
    def __init__(
        self,
        port: int,
        liveness: Callable[[], Probe],
        readiness: Callable[[], Probe],
        metrics: Callable[[], tuple[bytes, str]],
        host: str = "0.0.0.0",
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, bytes, str]]] = {
            "/healthz": lambda: _probe_answer(liveness()),
            "/readyz": lambda: _probe_answer(readiness()),
            "/metrics": lambda: (200, *metrics()),
        }

        class Handler(BaseHTTPRequestHandler):
            server_version = "sanctionwatch"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, body, kind = 404, b"not found\n", "text/plain"
                else:
                    try:
                        status, body, kind = route()
                    except Exception as exc:  # a probe that breaks must answer, not hang
                        log.exception("health endpoint %s failed", self.path)
                        status, body, kind = 503, f"{exc}\n".encode(), "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _probe_answer(probe: Probe) -> tuple[int, bytes, str]:
    body = json.dumps({"ok": probe.ok, "checks": probe.checks}).encode() + b"\n"
    return (200 if probe.ok else 503), body, "application/json"
