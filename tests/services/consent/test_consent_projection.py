"""The projection applies every replica's changes in order and idempotently, with no I/O."""

from dataclasses import replace
from datetime import timedelta

from aiokafka.structs import ConsumerRecord

from services.consent.domain import AccessGrant, Action, Restriction
from services.consent.projection import Projection
from services.consent.replication import Follower
from services.consent.repository import ORIGIN_HEADER
from shared import events
from tests.services.consent.test_consent_domain import (
    PH_ORG,
    SHARING,
    T0,
    ask,
    change,
    year_grant,
)


def projection() -> Projection:
    p = Projection(origin="here")
    p.put_purpose(SHARING)
    p.put_organisation(PH_ORG)
    return p


def test_a_withdrawal_that_overtakes_its_grant_leaves_the_consent_withdrawn() -> None:
    p = projection()
    p.put_grant(year_grant(PH_ORG.slug))
    p.apply_change(change("c1", 2, SHARING.code, Action.WITHDRAWN, T0 + timedelta(days=2)))
    p.apply_change(change("c1", 1, SHARING.code, Action.GRANTED, T0 + timedelta(days=1)))
    assert not p.consents["u1"]["c1"].active
    assert not p.decide(ask(PH_ORG.slug, T0 + timedelta(days=3))).allow


def test_a_late_creation_does_not_undo_a_revocation() -> None:
    p = projection()
    created = year_grant(PH_ORG.slug)
    p.put_grant(replace(created, revoked_at=T0 + timedelta(days=5)))
    p.put_grant(created)
    held = p.grant(PH_ORG.slug, created.grant_id)
    assert held is not None and held.revoked_at == T0 + timedelta(days=5)


def test_a_revoked_grant_covers_nothing_even_before_its_revocation_time() -> None:
    # Another replica's clock may be behind the one that stamped the revocation.
    grant = replace(year_grant(PH_ORG.slug), revoked_at=T0 + timedelta(days=10))
    assert not grant.covers(frozenset({"email"}), T0 + timedelta(days=1))


def test_an_organisations_older_change_is_ignored_and_a_retirement_stays() -> None:
    p = projection()
    newer = replace(PH_ORG, privacy_contact="new@dti.example")
    older = replace(PH_ORG, privacy_contact="old@dti.example")
    assert p.put_organisation(newer, stamp=T0 + timedelta(seconds=2))
    assert not p.put_organisation(older, stamp=T0 + timedelta(seconds=1))
    assert p.view.organisations[PH_ORG.slug].privacy_contact == "new@dti.example"
    assert not p.put_organisation(newer, stamp=T0 + timedelta(seconds=2)), "again: nothing"

    retired = replace(newer, retired_at=T0 + timedelta(days=1))
    p.put_organisation(retired, stamp=T0 + timedelta(seconds=3))
    p.put_organisation(newer, stamp=T0 + timedelta(seconds=4))
    assert p.view.organisations[PH_ORG.slug].retired_at == T0 + timedelta(days=1)


def test_a_restriction_that_arrives_before_the_registration_stays() -> None:
    p = projection()
    p.restrict_subject("u1", Restriction(restricted=True))
    p.register_subject("u1", "PH")
    assert p.restrictions["u1"].restricted and p.countries["u1"] == "PH"


def _grant_record(origin: bytes | None, grant: AccessGrant) -> ConsumerRecord[bytes, bytes]:
    event = events.AccessGrantCreated.create(
        producer="consent",
        subject_id=grant.organisation,
        payload=events.AccessGrantPayload(
            grant_id=grant.grant_id,
            organisation=grant.organisation,
            data_categories=sorted(grant.data_categories),
            valid_from=grant.valid_from,
            valid_until=grant.valid_until,
            created_by="admin",
            created_at=T0,
        ),
    )
    headers = [] if origin is None else [(ORIGIN_HEADER, origin)]
    return ConsumerRecord(
        topic=events.ACCESS_GRANT_CREATED,
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=grant.organisation.encode(),
        value=event.to_bytes(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=tuple(headers),
    )


async def test_a_follower_applies_only_its_own_deployments_changes() -> None:
    follower = Follower(bootstrap_servers="127.0.0.1:1", group_id="g", service_group="s")
    p = projection()
    follower.projection = p
    mine, theirs, unnamed = (
        AccessGrant(f"g-{n}", PH_ORG.slug, frozenset({"email"}), T0, T0 + timedelta(days=9))
        for n in ("mine", "theirs", "unnamed")
    )
    follower._apply(_grant_record(b"here", mine))
    follower._apply(_grant_record(b"elsewhere", theirs))
    follower._apply(_grant_record(None, unnamed))
    assert [g.grant_id for g in p.view.grants[PH_ORG.slug]] == ["g-mine"]
    assert follower.applied == 1


async def test_an_unreadable_event_is_skipped_not_fatal() -> None:
    follower = Follower(bootstrap_servers="127.0.0.1:1", group_id="g", service_group="s")
    follower.projection = projection()
    record = replace(_grant_record(b"here", year_grant(PH_ORG.slug)), value=b"{not json")
    follower._apply(record)
    assert follower.applied == 0
