"""The contact directory: people from the registry's events about users, organisations
and their privacy contacts from the consent service's events about the directory."""

from collections.abc import Sequence

from services.notifier import repository
from services.notifier.repository import ContactChange, OrganisationChange
from shared.db import Sessions, transaction
from shared.events import (
    Envelope,
    OrganisationRegistered,
    OrganisationRetired,
    OrganisationUpdated,
    UserErased,
    UserRegistered,
    UserUpdated,
)


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


async def apply_organisations(sessions: Sessions, batch: Sequence[Envelope]) -> None:
    """Keep each organisation as its newest event says (each carries the whole entry);
    a retired one keeps its contact: it still holds what it received."""
    changes = []
    for event in batch:
        if isinstance(event, OrganisationRegistered | OrganisationUpdated | OrganisationRetired):
            p = event.payload
            retired = p.retired_at
            if isinstance(event, OrganisationRetired) and retired is None:
                retired = event.occurred_at
            changes.append(
                OrganisationChange(
                    organisation=p.organisation,
                    name=p.name,
                    country=p.country,
                    privacy_contact=p.privacy_contact,
                    retired_at=retired,
                    at=event.occurred_at,
                )
            )
    async with transaction(sessions) as session:
        await repository.upsert_organisations(session, changes)
