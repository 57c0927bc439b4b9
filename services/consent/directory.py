"""Use cases of the directory and the access grants.

Each change is written with its event in one transaction and applied to this replica's
projection before the caller is answered; the other replicas apply it when the event
reaches them (``replication.py``). An organisation's events carry its ``updated_at``
(stamped by the database under the row's lock) as ``occurred_at``, which orders them.
"""

import uuid

from services.consent import repository
from services.consent.domain import ConsentRuleError, check_window
from services.consent.exceptions import Conflict, InvalidRequest, NotFound, refused
from services.consent.models import (
    GrantCreate,
    GrantRow,
    OrganisationCreate,
    OrganisationRow,
    OrganisationUpdate,
)
from services.consent.projection import Projection
from services.consent.repository import ORIGIN_HEADER
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import (
    AccessGrantCreated,
    AccessGrantPayload,
    AccessGrantRevoked,
    OrganisationPayload,
    OrganisationRegistered,
    OrganisationRetired,
    OrganisationUpdated,
)
from shared.outbox import stage

PRODUCER = "consent"
OrganisationEvent = type[OrganisationRegistered | OrganisationUpdated | OrganisationRetired]
GrantEvent = type[AccessGrantCreated | AccessGrantRevoked]


def organisation_event(
    cls: OrganisationEvent, row: OrganisationRow
) -> OrganisationRegistered | OrganisationUpdated | OrganisationRetired:
    """The event of a change to an organisation: its whole entry after the change."""
    payload = OrganisationPayload(
        organisation=row.slug,
        name=row.name,
        country=row.country,
        kind=row.kind,
        standing_access=row.standing_access,
        privacy_contact=row.privacy_contact,
        retired_at=row.retired_at,
    )
    return cls.create(
        producer=PRODUCER, subject_id=row.slug, payload=payload, occurred_at=row.updated_at
    )


def grant_event(cls: GrantEvent, row: GrantRow) -> AccessGrantCreated | AccessGrantRevoked:
    """The event of a change to a grant: the grant as it stands after the change."""
    payload = AccessGrantPayload(
        grant_id=str(row.grant_id),
        organisation=row.organisation,
        data_categories=list(row.data_categories),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        revoked_at=row.revoked_at,
        created_by=row.created_by,
        created_at=row.created_at,
    )
    return cls.create(producer=PRODUCER, subject_id=row.organisation, payload=payload)


def _apply_organisation(projection: Projection, row: OrganisationRow) -> None:
    projection.put_organisation(repository.to_organisation(row), stamp=row.updated_at)


async def announce(sessions: Sessions, projection: Projection) -> int:
    """Stage ``organisation.registered`` for every organisation never announced (the
    seeded ones, at the first start); return how many. Idempotent across replicas."""
    async with transaction(sessions) as session:
        rows = await repository.claim_unannounced(session)
        stage(
            session,
            *(organisation_event(OrganisationRegistered, row) for row in rows),
            headers={ORIGIN_HEADER: projection.origin},
        )
    return len(rows)


async def create_organisation(
    sessions: Sessions, projection: Projection, body: OrganisationCreate
) -> OrganisationRow:
    """Add an organisation to the directory."""
    async with transaction(sessions) as session:
        row = await repository.add_organisation(session, body.model_dump())
        if row is None:
            raise Conflict(f"organisation '{body.slug}' exists", field="slug")
        stage(
            session,
            organisation_event(OrganisationRegistered, row),
            headers={ORIGIN_HEADER: projection.origin},
        )
    _apply_organisation(projection, row)
    return row


async def _changeable(sessions: Sessions, slug: str) -> None:
    """Raise why an organisation could not be changed: unknown (404) or retired (409)."""
    async with sessions() as session:
        row = await repository.organisation(session, slug)
    if row is None:
        raise NotFound(f"no organisation '{slug}'", field="slug")
    raise Conflict(f"organisation '{slug}' was retired; it cannot change", field="slug")


async def update_organisation(
    sessions: Sessions, projection: Projection, slug: str, body: OrganisationUpdate
) -> OrganisationRow:
    """Change an organisation's name or privacy contact; only the fields given change."""
    values = body.model_dump(include=body.model_fields_set)
    if not values:
        raise InvalidRequest("nothing to change: give name or privacy_contact")
    if "name" in values and values["name"] is None:
        raise InvalidRequest("name cannot be removed", field="name")
    async with transaction(sessions) as session:
        row = await repository.update_organisation(session, slug, values)
        if row is not None:
            stage(
                session,
                organisation_event(OrganisationUpdated, row),
                headers={ORIGIN_HEADER: projection.origin},
            )
    if row is None:
        await _changeable(sessions, slug)
    assert row is not None
    _apply_organisation(projection, row)
    return row


async def retire_organisation(
    sessions: Sessions, projection: Projection, slug: str, clock: Clock
) -> None:
    """Retire an organisation: from now on every decision for it is a refusal.

    Retiring a retired organisation changes nothing (its retirement keeps its time).
    """
    now = await clock.now()
    async with transaction(sessions) as session:
        row = await repository.retire_organisation(session, slug, now)
        if row is not None:
            stage(
                session,
                organisation_event(OrganisationRetired, row),
                headers={ORIGIN_HEADER: projection.origin},
            )
    if row is None:
        async with sessions() as session:
            if await repository.organisation(session, slug) is None:
                raise NotFound(f"no organisation '{slug}'", field="slug")
        return
    _apply_organisation(projection, row)


async def create_grant(
    sessions: Sessions, projection: Projection, body: GrantCreate, *, created_by: str, clock: Clock
) -> GrantRow:
    """Give an organisation access to some categories for a period."""
    if body.organisation not in projection.view.organisations:
        raise InvalidRequest(f"unknown organisation '{body.organisation}'", field="organisation")
    try:
        check_window(body.valid_from, body.valid_until)
    except ConsentRuleError as exc:
        raise refused(exc) from exc
    values = {
        "grant_id": uuid.uuid4(),
        "organisation": body.organisation,
        "data_categories": sorted(set(body.data_categories)),
        "valid_from": body.valid_from,
        "valid_until": body.valid_until,
        "created_by": created_by,
        "created_at": await clock.now(),
    }
    async with transaction(sessions) as session:
        row = await repository.add_grant(session, values)
        stage(
            session,
            grant_event(AccessGrantCreated, row),
            headers={ORIGIN_HEADER: projection.origin},
        )
    projection.put_grant(repository.to_grant(row))
    return row


async def revoke_grant(
    sessions: Sessions, projection: Projection, grant_id: uuid.UUID, clock: Clock
) -> GrantRow:
    """Revoke a grant before its end; from then on no decision relies on it.

    Revoking a revoked grant answers the grant as its first revocation left it, and
    emits nothing. A grant whose period has ended is a conflict: nothing is left to revoke.
    """
    now = await clock.now()
    async with transaction(sessions) as session:
        held = await repository.grant(session, grant_id)
        if held is None:
            raise NotFound(f"no access grant {grant_id}", field="grant_id")
        if held.revoked_at is not None:
            return held
        if held.valid_until <= now:
            raise Conflict(
                f"access grant {grant_id} ended at {held.valid_until.isoformat()}",
                field="grant_id",
            )
        row = await repository.revoke_grant(session, grant_id, now)
        if row is None:  # revoked meanwhile, by a request to another replica
            session.expire_all()
            revoked = await repository.grant(session, grant_id)
            assert revoked is not None
            return revoked
        stage(
            session,
            grant_event(AccessGrantRevoked, row),
            headers={ORIGIN_HEADER: projection.origin},
        )
    projection.put_grant(repository.to_grant(row))
    return row
