"""Where a service takes the time from: the system's clock, or one kept in its database.

Rules that depend on time (the breach service's 72-hour clock) ask a :class:`Clock`,
never ``datetime.now``. In production that is :class:`SystemClock`. Tests and the demo
use :class:`StoredClock`: its frozen time or its offset from the system's time lives in
a one-row table of the service's own schema and is read at every tick, so a test moves
time by writing that row, and a service restarted under test sees the same time as the
one it replaced. Tests with no database use :class:`ManualClock`, the same in memory.
"""

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CLOCK_DDL: tuple[str, ...] = (
    """
    CREATE TABLE clock (
        id             smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        frozen_at      timestamptz,
        offset_seconds double precision NOT NULL DEFAULT 0
    )
    """,
    "INSERT INTO clock (id) VALUES (1)",
)
"""The stored clock's table; a service that may run on it creates it in a migration."""


class Clock(Protocol):
    """A source of the current time, aware and in UTC."""

    async def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The machine's clock."""

    async def now(self) -> datetime:
        """The current time, from the system."""
        return datetime.now(UTC)


class StoredClock:
    """A clock kept in the service's ``clock`` table: frozen at a time, or offset from now."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def now(self) -> datetime:
        """The stored frozen time, or the system's time plus the stored offset."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT frozen_at, offset_seconds FROM clock WHERE id = 1"))
            ).first()
        if row is None:
            return datetime.now(UTC)
        frozen_at, offset = row
        if frozen_at is not None:
            return frozen_at.astimezone(UTC)
        return datetime.now(UTC) + timedelta(seconds=float(offset))

    async def freeze(self, at: datetime) -> None:
        """Stop the clock at ``at`` (aware)."""
        await self._write(frozen_at=at.astimezone(UTC), offset_seconds=0.0)

    async def advance(self, by: timedelta) -> None:
        """Move the clock forward (or back) by ``by``, frozen or running."""
        async with self._engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE clock SET frozen_at = frozen_at + make_interval(secs => :s), "
                    "offset_seconds = CASE WHEN frozen_at IS NULL "
                    "THEN offset_seconds + :s ELSE 0 END WHERE id = 1"
                ),
                {"s": by.total_seconds()},
            )

    async def run(self, offset: timedelta = timedelta(0)) -> None:
        """Let the clock run with the system's, ``offset`` ahead of it."""
        await self._write(frozen_at=None, offset_seconds=offset.total_seconds())

    async def _write(self, *, frozen_at: datetime | None, offset_seconds: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                text("UPDATE clock SET frozen_at = :f, offset_seconds = :o WHERE id = 1"),
                {"f": frozen_at, "o": offset_seconds},
            )


class ManualClock:
    """A clock in memory, moved by hand: frozen at a time, or running ahead of the system's
    by an offset. For tests with no database, and a service built in one process."""

    def __init__(self, at: datetime | None = None) -> None:
        self._frozen_at = at.astimezone(UTC) if at is not None else None
        self._offset = timedelta(0)

    async def now(self) -> datetime:
        """The frozen time, or the system's time plus the offset."""
        if self._frozen_at is not None:
            return self._frozen_at
        return datetime.now(UTC) + self._offset

    async def freeze(self, at: datetime) -> None:
        """Stop the clock at ``at`` (aware)."""
        self._frozen_at, self._offset = at.astimezone(UTC), timedelta(0)

    async def advance(self, by: timedelta) -> None:
        """Move the clock forward (or back) by ``by``, frozen or running."""
        if self._frozen_at is not None:
            self._frozen_at += by
        else:
            self._offset += by

    async def run(self, offset: timedelta = timedelta(0)) -> None:
        """Let the clock run with the system's, ``offset`` ahead of it."""
        self._frozen_at, self._offset = None, offset
