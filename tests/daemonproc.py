"""Start the real ``sanctionwatch run`` in a subprocess and talk to its HTTP endpoint."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
from clirun import _CLEAN, REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningDaemon:
    def __init__(self, workdir: Path, env: Mapping[str, str], new_session: bool = False) -> None:
        """``new_session``: the daemon leads a process group of its own, as under a terminal
        (``interrupt`` then reaches it and its parser processes, like Ctrl-C)."""
        self.workdir = workdir
        self.port = free_port()
        self.stdout = workdir / f"run-{self.port}.out"
        self.stderr = workdir / f"run-{self.port}.err"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run"],
            cwd=workdir,
            env={
                **_CLEAN,
                "SANCTIONWATCH_LOG_FORMAT": "json",
                "SANCTIONWATCH_HTTP_PORT": str(self.port),
                "PYTHONPATH": str(REPO),
                **env,
            },
            stdout=self.stdout.open("w"),
            stderr=self.stderr.open("w"),
            start_new_session=new_session,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url(path), timeout=5)

    def wait_until(self, path: str, status: int = 200, timeout: float = 30) -> httpx.Response:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited {self.process.returncode}: {self.logs()}")
            try:
                response = self.get(path)
                if response.status_code == status:
                    return response
                last = response.text
            except httpx.TransportError as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"{path} never answered {status}; last: {last}\n{self.logs()}")

    def metric(self, name: str) -> float:
        """The sum of every sample of a metric family (0 when it has none yet)."""
        total = 0.0
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def interrupt(self, timeout: float = 15) -> int:
        """Ctrl-C: SIGINT to the daemon's whole process group (``new_session`` only)."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def logs(self) -> str:
        return self.stderr.read_text(errors="replace")[-4000:]

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")
