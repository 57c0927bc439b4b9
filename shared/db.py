"""Database helpers: one async engine per service, bound to the service's own schema.

Every connection sets ``search_path`` to the service's schema, so tables are declared
unqualified (the shared outbox and inbox tables included) and each service still keeps
to its own schema.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Sessions = async_sessionmaker[AsyncSession]


def create_engine(database_url: str, schema: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine whose connections live in ``schema``."""
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"server_settings": {"search_path": schema, "application_name": schema}},
    )


def create_sessions(engine: AsyncEngine) -> Sessions:
    """A session factory that keeps objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq URL asyncpg accepts, from a SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect_raw(database_url: str, schema: str) -> asyncpg.Connection:
    """A bare asyncpg connection in ``schema`` (for LISTEN and COPY)."""
    return await asyncpg.connect(asyncpg_dsn(database_url), server_settings={"search_path": schema})


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers ``SELECT 1``."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def _upgrade(connection: Connection, config: Config, schema: str) -> None:
    # One migrator at a time per schema, even with several replicas starting together.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, migrations: Path, schema: str) -> None:
    """Bring ``schema`` to the newest Alembic revision in ``migrations``."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["schema"] = schema
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, config, schema)


def run_alembic_env(context: Any) -> None:
    """The body of every service's ``migrations/env.py``: run on the given connection."""
    config = context.config
    schema = config.attributes["schema"]
    context.configure(
        connection=config.attributes["connection"],
        version_table_schema=schema,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


@asynccontextmanager
async def transaction(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on error."""
    async with sessions() as session, session.begin():
        yield session
