"""Engine, sessions and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import daemon
from daemon.errors import ConfigError, StoreError

SETTING = "SANCTIONWATCH_DATABASE_URL"
MIGRATION_LOCK = 7_461_001
"""PostgreSQL advisory lock key held while migrating."""
SCHEMA_HEAD = "0005"
"""The newest migration. A database already there is not handed to Alembic, which a daemon
process then never imports (Alembic and Mako hold about 11 MiB); a test keeps this equal to
Alembic's head."""

if TYPE_CHECKING:
    from alembic.config import Config


def migrations_dir() -> Path:
    """``daemon/migrations`` in an installed wheel, ``alembic/`` in a source checkout."""
    package_dir = Path(daemon.__file__).resolve().parent
    installed = package_dir / "migrations"
    return installed if (installed / "env.py").is_file() else package_dir.parent / "alembic"


def build_engine(url: str) -> Engine:
    """An engine for ``url``; a malformed URL or unknown driver is a configuration error."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError(SETTING, f"not a database URL: {_masked(url)!r}") from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(SETTING, f"unsupported database {parsed.get_backend_name()!r}")
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(SETTING, f"cannot use {_masked(url)!r}: {exc}") from None
    return engine


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory SQLite)."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url[:40]


def check_connection(engine: Engine) -> None:
    """Fail with a configuration error naming the setting when the database is unreachable."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ConfigError(
            SETTING, f"cannot connect to {engine.url.render_as_string()}: {reason}"
        ) from None


def ping(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreError(f"database unreachable: {reason}") from None


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: not migrated, or not readable)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except sqlalchemy.exc.DBAPIError:
        return None


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # replicas starting together migrate once
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config = alembic_config(engine)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StoreError(f"migration failed: {exc}") from exc


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session
