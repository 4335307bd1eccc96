"""Migrations match the models, go down and up again, and ship inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from daemon.store.database import (
    SCHEMA_HEAD,
    alembic_config,
    build_engine,
    downgrade,
    schema_revision,
    upgrade,
)
from daemon.store.tables import Base

REPO = Path(__file__).resolve().parents[1]


def test_no_drift_between_models_and_migrations(database_url: str) -> None:
    engine = build_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = build_engine(database_url)
    upgrade(engine)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"feeds", "stories", "hits", "alerts", "replicas"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_the_known_newest_migration_is_alembics_head(database_url: str) -> None:
    engine = build_engine(database_url)
    try:
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        assert schema_revision(engine) is None
        upgrade(engine)
        assert schema_revision(engine) == head == SCHEMA_HEAD
        downgrade(engine, "0004")
        assert schema_revision(engine) == "0004"
        upgrade(engine)
        assert schema_revision(engine) == SCHEMA_HEAD
    finally:
        engine.dispose()


@pytest.mark.slow
def test_db_upgrade_from_an_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("sanctionwatch-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [
                venv / "bin" / "python",
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies come from this environment; the project itself only from the wheel.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    database = workdir / "fresh.db"
    result = subprocess.run(
        [venv / "bin" / "sanctionwatch", "db", "upgrade"],
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "SANCTIONWATCH_DATABASE_URL": f"sqlite:///{database}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    located = subprocess.run(
        [venv / "bin" / "python", "-c", "import daemon; print(daemon.__file__)"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(site) in located
    engine = build_engine(f"sqlite:///{database}")
    assert {"feeds", "stories", "hits", "alerts"} <= set(inspect(engine).get_table_names())
    engine.dispose()
