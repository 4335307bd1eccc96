"""Shared fixtures: databases (SQLite and the local PostgreSQL server), paths to ../shared."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import text

from daemon.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POSTGRES_ADMIN_URL = os.environ.get(
    "SANCTIONWATCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


def _postgres_admin() -> sqlalchemy.Engine | None:
    engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except sqlalchemy.exc.OperationalError:
        engine.dispose()
        return None
    return engine


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[sqlalchemy.Engine]:
    engine = _postgres_admin()
    if engine is None:
        if os.environ.get("SANCTIONWATCH_REQUIRE_POSTGRES") or os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required here but not reachable at {POSTGRES_ADMIN_URL}")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_server: sqlalchemy.Engine) -> Iterator[str]:
    """A fresh database of its own for one test, dropped afterwards."""
    name = f"sw_test_{uuid.uuid4().hex[:12]}"
    with postgres_server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with postgres_server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sanctionwatch.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each database of ``database_url``."""
    store = Store.connect(database_url)
    store.upgrade()
    yield store
    store.close()


from feedserver import feed_server  # noqa: E402, F401
from slackserver import slack_server  # noqa: E402, F401
