"""What the notifier can show about the notices of a breach."""

from typing import Any

from services.notifier import repository
from shared.db import Sessions


async def page(
    sessions: Sessions, breach_id: str, *, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """A page of a breach's deliveries, in notice id order."""
    async with sessions() as session:
        return await repository.deliveries_of_breach(session, breach_id, after=after, limit=limit)


async def summary(sessions: Sessions, breach_id: str) -> dict[str, Any]:
    """The count of a breach's notices in each state, and of the uncertain ones."""
    async with sessions() as session:
        return await repository.summary_of_breach(session, breach_id)
