"""One writer per SQLite file: a second daemon on the same file refuses to start."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from daemon.errors import ConfigError


class InstanceLock:
    """An exclusive advisory lock on ``<database>.lock``, held for the life of the process."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                "SANCTIONWATCH_DATABASE_URL",
                f"{self.path.with_suffix('')} is in use by {holder}; SQLite allows one "
                "running daemon — use PostgreSQL for several replicas",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"sanctionwatch pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
