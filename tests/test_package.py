"""The import name ``daemon`` must resolve to this distribution, never to python-daemon."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import daemon


def test_daemon_resolves_to_this_distribution() -> None:
    repo = Path(__file__).resolve().parents[1]
    assert Path(daemon.__file__).resolve().parent == repo / "daemon"
    assert daemon.DISTRIBUTION == "sanctionwatch"
    distribution = importlib.metadata.distribution("sanctionwatch")
    assert distribution.version == daemon.__version__
    assert "sanctionwatch" in importlib.metadata.packages_distributions()["daemon"]


def test_python_daemon_is_not_installed() -> None:
    names = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert "python-daemon" not in names
