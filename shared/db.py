"""Database helpers: one async engine per service, bound to the service's own schema.

Every connection sets ``search_path`` to the service's schema, so tables are declared
unqualified (the shared outbox and inbox tables included) and each service still keeps
to its own schema.

A service migrates its schema as the owner role and then grants its own role what it
needs there (:func:`migrate_service`); docs/database-roles.md has the roles.
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

from shared.logging import get_logger
from shared.settings import TABLE_DEFAULT, ServiceSettings, TablePrivileges

log = get_logger(__name__)

Sessions = async_sessionmaker[AsyncSession]
GRANTABLE = frozenset(TABLE_DEFAULT)
"""The table privileges a service's role may be given; never TRUNCATE, REFERENCES, TRIGGER."""
VERSION_TABLE = "alembic_version"
"""Alembic's; a service's role may read it (to see the schema is migrated), nothing more."""
TOPIC_PREFIX_SETTING = "privacy.topic_prefix"
"""The connection setting that holds the service's topic prefix: the outbox writer puts
it before each row's topic (``shared.outbox``), whichever way the row is written."""


def connection_settings(schema: str, topic_prefix: str = "") -> dict[str, str]:
    """What every connection of a service sets when it opens: its schema, and the prefix
    of the topics its outbox rows go to."""
    return {"search_path": schema, TOPIC_PREFIX_SETTING: topic_prefix}


def create_engine(
    database_url: str, schema: str, *, pool_size: int = 10, topic_prefix: str = ""
) -> AsyncEngine:
    """An asyncpg engine whose connections live in ``schema`` (and stage their events
    on topics named with ``topic_prefix``)."""
    server_settings = {**connection_settings(schema, topic_prefix), "application_name": schema}
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"server_settings": server_settings},
    )


def create_sessions(engine: AsyncEngine) -> Sessions:
    """A session factory that keeps objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq URL asyncpg accepts, from a SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect_raw(
    database_url: str, schema: str, *, topic_prefix: str = ""
) -> asyncpg.Connection:
    """A bare asyncpg connection in ``schema`` (for LISTEN and COPY, and writers of their own)."""
    return await asyncpg.connect(
        asyncpg_dsn(database_url), server_settings=connection_settings(schema, topic_prefix)
    )


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers ``SELECT 1``."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def _upgrade(
    connection: Connection,
    config: Config,
    schema: str,
    grant_to: str | None = None,
    privileges: TablePrivileges | None = None,
) -> None:
    # One migrator at a time per schema, even with several replicas starting together
    # (concurrent GRANTs on one object fail, so the grants are inside the lock too).
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
    # Only when missing: CREATE SCHEMA checks the privilege first, even with IF NOT EXISTS,
    # and a service started with just its own role must pass here on a migrated schema.
    exists = connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
    ).first()
    if exists is None:
        connection.exec_driver_sql(f"CREATE SCHEMA {_quote(connection, schema)}")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    if grant_to is not None:
        grant_service_role(connection, schema, grant_to, privileges or {})


def _config(migrations: Path, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["schema"] = schema
    return config


async def migrate(engine: AsyncEngine, migrations: Path, schema: str) -> None:
    """Bring ``schema`` to the newest Alembic revision in ``migrations``, as ``engine``'s role."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, _config(migrations, schema), schema)


async def migrate_service(engine: AsyncEngine, migrations: Path, settings: ServiceSettings) -> None:
    """Migrate the service's schema as the owner (``migration_database_url``), then grant
    ``engine``'s role what the service needs there, in the same transaction."""
    schema = settings.schema_name
    async with engine.connect() as conn:
        service_role = str((await conn.execute(text("SELECT current_user"))).scalar_one())
    owner = (
        engine
        if settings.migration_database_url == settings.database_url
        else create_engine(settings.migration_database_url, schema, pool_size=1)
    )
    try:
        async with owner.begin() as conn:
            owner_role = str((await conn.execute(text("SELECT current_user"))).scalar_one())
            # One role doing both (a single-role deployment) has nothing to grant itself.
            grant_to = None if owner_role == service_role else service_role
            await conn.run_sync(
                _upgrade,
                _config(migrations, schema),
                schema,
                grant_to,
                type(settings).table_privileges,
            )
    finally:
        if owner is not engine:
            await owner.dispose()
    log.info("db.migrated", schema=schema, owner=owner_role, service_role=service_role)


def grant_service_role(
    connection: Connection, schema: str, role: str, privileges: TablePrivileges
) -> None:
    """Give ``role`` exactly what a service's role may do in ``schema``: use the schema,
    each table's privileges (``privileges`` or TABLE_DEFAULT; only SELECT on the version
    table), its sequences, and the same by default on tables the owner adds later."""
    s, r = _quote(connection, schema), _quote(connection, role)
    tables = set(
        connection.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
            ),
            {"s": schema},
        ).scalars()
    )
    unknown = sorted(set(privileges) - tables)
    if unknown:
        raise ValueError(f"table_privileges: {schema} has no table {', '.join(unknown)}")
    for table, declared in privileges.items():
        if not set(declared) <= GRANTABLE:
            raise ValueError(f"table_privileges: {table}: only {sorted(GRANTABLE)} may be given")
    statements = [f"GRANT USAGE ON SCHEMA {s} TO {r}"]
    for table in sorted(tables):
        t = f"{s}.{_quote(connection, table)}"
        # Revoked first, so a privilege the service no longer declares goes away.
        statements.append(f"REVOKE ALL ON TABLE {t} FROM {r}")
        granted = ("SELECT",) if table == VERSION_TABLE else privileges.get(table, TABLE_DEFAULT)
        if granted:
            statements.append(f"GRANT {', '.join(granted)} ON TABLE {t} TO {r}")
    default = ", ".join(TABLE_DEFAULT)
    statements += [
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {default} ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE ON SEQUENCES TO {r}",
    ]
    for statement in statements:
        connection.exec_driver_sql(statement)


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


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
