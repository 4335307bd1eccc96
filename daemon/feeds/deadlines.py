"""Deadlines for many requests at once, kept by one thread."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable


class Alarm:
    def __init__(self, deadline: float, action: Callable[[], None]) -> None:
        self.deadline = deadline
        self.action = action
        self.cancelled = False

    def __lt__(self, other: Alarm) -> bool:
        return self.deadline < other.deadline


class AlarmClock:
    """One thread that runs actions at their deadlines (a thread per request costs more)."""

    def __init__(self) -> None:
        self._alarms: list[Alarm] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def set(self, seconds: float, action: Callable[[], None]) -> Alarm:
        alarm = Alarm(time.monotonic() + max(seconds, 0.0), action)
        with self._changed:
            heapq.heappush(self._alarms, alarm)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="fetch-deadlines", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        return alarm

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._alarms and self._alarms[0].cancelled:
                    heapq.heappop(self._alarms)
                if not self._alarms:
                    self._changed.wait(60)
                    continue
                wait = self._alarms[0].deadline - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                alarm = heapq.heappop(self._alarms)
            alarm.action()
