"""The read path's statements, sent on the pooled connection's asyncpg driver itself.

A disclosure is the registry's everyday path, so it skips the ORM: one statement reads
the user and their profile together and holds the user's row FOR SHARE, one statement
stages the ``data.accessed`` events in the outbox (``shared.outbox.stage_raw``, every
event of a batch at once), and the transaction is asyncpg's own (BEGIN ... COMMIT,
``shared.outbox.transaction``, whose commit wakes the relay). The connection is checked
out of the service's SQLAlchemy pool, so the read path shares its pool, its
``search_path`` (and topic prefix) and its limits with the rest of the service.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.domain import PROFILE_FIELDS, REGISTRATION_FIELDS
from shared import outbox

_USER_COLUMNS = ", ".join(f"u.{name}" for name in REGISTRATION_FIELDS)
_PROFILE_COLUMNS = ", ".join(f"p.{name}" for name in PROFILE_FIELDS)
_SUBJECTS = f"""
    SELECT u.user_id, u.restricted, u.objected, {_USER_COLUMNS}, {_PROFILE_COLUMNS}
    FROM users AS u LEFT JOIN profiles AS p ON p.user_id = u.user_id
    WHERE u.user_id = ANY($1::text[])
    ORDER BY u.user_id
    FOR SHARE OF u
"""
_SUBJECT = _SUBJECTS.replace("= ANY($1::text[])", "= $1").replace("ORDER BY u.user_id", "")
_ERASED = "SELECT user_id FROM erasures WHERE user_id = ANY($1::text[])"

Subject = asyncpg.Record
"""A user's registration and profile fields (a profile's are None without one), by name,
with ``user_id``, ``restricted`` and ``objected``."""


@asynccontextmanager
async def connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the service's pool, as asyncpg's own, for statements outside a
    transaction."""
    async with engine.connect() as pooled:
        raw: Any = (await pooled.get_raw_connection()).driver_connection
        conn: asyncpg.Connection = raw
        try:
            yield conn
        finally:
            # SQLAlchemy does not see asyncpg's own transactions, so it would not roll one
            # back on return to the pool: a transaction cut short (a cancelled request)
            # must not leave the connection in one, nor a broken one in the pool.
            if conn.is_closed():
                await pooled.invalidate()
            elif conn.is_in_transaction():
                await conn.execute("ROLLBACK")


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in one transaction: committed on success, rolled back otherwise;
    a commit wakes the outbox relay (the ORM's commits do so by themselves)."""
    async with connection(engine) as conn, outbox.transaction(conn):
        yield conn


async def subject(conn: asyncpg.Connection, user_id: str) -> Subject | None:
    """The user, held FOR SHARE until the transaction ends, with their profile's fields."""
    return await conn.fetchrow(_SUBJECT, user_id)


async def subjects(conn: asyncpg.Connection, user_ids: Sequence[str]) -> dict[str, Subject]:
    """Those of the users who are registered, each held FOR SHARE, by id."""
    return {row["user_id"]: row for row in await conn.fetch(_SUBJECTS, list(user_ids))}


async def erased(conn: asyncpg.Connection, user_ids: Sequence[str]) -> set[str]:
    """Those of the users who were erased."""
    return {row["user_id"] for row in await conn.fetch(_ERASED, list(user_ids))}
