"""The contact directory, kept from the registry's events about users."""

from collections.abc import Sequence

from services.notifier import repository
from services.notifier.repository import ContactChange
from shared.db import Sessions, transaction
from shared.events import Envelope, UserErased, UserRegistered, UserUpdated


async def apply(sessions: Sessions, batch: Sequence[Envelope]) -> None:
    """Apply a batch of user events in one transaction; replays change nothing."""
    changes: list[ContactChange] = []
    erased = []
    for event in batch:
        if isinstance(event, UserRegistered | UserUpdated):
            p = event.payload
            if (p.email, p.full_name, p.language) != (None, None, None):
                changes.append(
                    ContactChange(p.user_id, event.occurred_at, p.email, p.full_name, p.language)
                )
        elif isinstance(event, UserErased):
            erased.append((event.payload.user_id, event.payload.erased_at))
    async with transaction(sessions) as session:
        await repository.upsert_contacts(session, changes)
        await repository.erase_contacts(session, erased)
