"""Configuration mistakes end with exit status 2 and one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from clirun import sanctionwatch


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - url: http://127.0.0.1:9/feed.xml\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "aurus.yaml").write_text(
        "id: aurus\ntitle: Aurus\ncategory: luxury_goods\nseverity: high\n"
        "terms:\n  car: [aurus]\ncondition: car\n"
    )
    return tmp_path


def assert_config_error(result, setting: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert setting in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://nobody@127.0.0.1/none", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
)
def test_bad_database_url(workdir: Path, url: str) -> None:
    result = sanctionwatch(
        "once",
        cwd=workdir,
        env={"SANCTIONWATCH_DATABASE_URL": url},
    )
    assert_config_error(result, "SANCTIONWATCH_DATABASE_URL")


def test_missing_rules_folder(workdir: Path) -> None:
    result = sanctionwatch("once", cwd=workdir, env={"SANCTIONWATCH_RULES": "no-such-rules"})
    assert_config_error(result, "SANCTIONWATCH_RULES")


@pytest.mark.parametrize("problem", ["missing", "unreadable", "invalid"])
def test_unusable_feed_list(workdir: Path, problem: str) -> None:
    feeds = workdir / "feeds.yaml"
    if problem == "missing":
        feeds.unlink()
    elif problem == "unreadable":
        feeds.unlink()
        feeds.mkdir()
    else:
        feeds.write_text("feeds: [{url: \n")
    result = sanctionwatch("once", cwd=workdir)
    assert_config_error(result, "SANCTIONWATCH_FEEDS")


def test_usage_error_exits_2() -> None:
    result = sanctionwatch("no-such-command")
    assert result.returncode == 2
