"""Resident memory of a long-running daemon process."""

from __future__ import annotations

import ctypes
import os

_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Keep glibc to ``arenas`` malloc arenas unless ``MALLOC_ARENA_MAX`` says otherwise.

    By default every thread that allocates may get an arena of its own (up to eight per core),
    and memory freed there stays resident; with dozens of polling threads that held about 15 MiB
    of nothing. Call before the threads start. False where the C library has no ``mallopt``.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
