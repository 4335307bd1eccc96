"""Run the real ``sanctionwatch`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CLEAN = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("SANCTIONWATCH_", "SLACK_")) or k == "SANCTIONWATCH_TEST_POSTGRES"
}


def sanctionwatch(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        env={**_CLEAN, "SANCTIONWATCH_LOG_FORMAT": "text", **(env or {})},
        cwd=cwd or REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
