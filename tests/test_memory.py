"""``run`` limits glibc's malloc arenas unless the operator set MALLOC_ARENA_MAX."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CHECK = "from daemon.memory import limit_malloc_arenas; print(limit_malloc_arenas())"


def limited(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_arenas_are_limited_unless_the_operator_chose() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert limited(env) == "True"
    assert limited({**env, "MALLOC_ARENA_MAX": "4"}) == "False"
