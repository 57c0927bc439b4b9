"""A member organisation's read on fakes: the consent service's answer decides, every
decision is recorded before the answer leaves, and the time is the registry's clock.

The registry's read path runs its few statements through ``services.registry.queries``
(one transaction holding the user's row); here those are a store in memory, the consent
client a fake, the clock a :class:`~shared.clock.ManualClock`.
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from services.registry import disclosure, queries
from services.registry.clients import ConsentUnavailable
from services.registry.domain import PROFILE_FIELDS, REGISTRATION_FIELDS
from services.registry.exceptions import Denied, Unavailable
from services.registry.models import ConsentDecision
from shared.clock import ManualClock
from shared.events import DataAccessed, Envelope

T0 = datetime(2031, 5, 1, 8, 30, tzinfo=UTC)
MARIA = {
    **dict.fromkeys((*REGISTRATION_FIELDS, *PROFILE_FIELDS)),
    "user_id": "u-maria",
    "restricted": False,
    "objected": False,
    "full_name": "Maria Santos",
    "email_address": "maria@example.ph",
    "country_of_residence": "PH",
}


class Store:
    """The registry's read-path statements, in memory."""

    def __init__(self, *users: dict[str, Any]) -> None:
        self.users = {u["user_id"]: u for u in users}
        self.staged: list[Envelope] = []

    @asynccontextmanager
    async def transaction(self, engine: object) -> AsyncIterator[None]:
        yield None

    connection = transaction

    async def subject(self, conn: object, user_id: str) -> dict[str, Any] | None:
        return self.users.get(user_id)

    async def erased(self, conn: object, user_ids: Sequence[str]) -> set[str]:
        return set()

    async def stage(self, conn: object, events: Sequence[Envelope]) -> None:
        self.staged.extend(events)


class Consent:
    """The consent service's decision, answered from memory; remembers what it was asked."""

    def __init__(self, answer: ConsentDecision | ConsentUnavailable) -> None:
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    async def decide(self, **question: Any) -> ConsentDecision:
        self.asked.append(question)
        if isinstance(self.answer, ConsentUnavailable):
            raise self.answer
        return self.answer


ALLOW = ConsentDecision(
    allow=True, reason="consent c-1 in force", consent_id="c-1", consent_version=1, grant_id="g-1"
)
DENY = ConsentDecision(allow=False, reason="no consent to member_organisation_sharing")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    store = Store(MARIA, {**MARIA, "user_id": "u-restricted", "restricted": True})
    for name in ("transaction", "connection", "subject", "erased"):
        monkeypatch.setattr(queries, name, getattr(store, name))
    monkeypatch.setattr(disclosure, "stage_raw", store.stage)
    return store


async def read(consent: Consent, user_id: str = "u-maria") -> dict[str, Any]:
    body = await disclosure.disclose(
        None,  # type: ignore[arg-type]  # the store above stands in for the database
        consent,  # type: ignore[arg-type]
        ManualClock(T0),
        user_id=user_id,
        organisation="ph-dti",
        actor="analyst@ph-dti",
        purpose="member_organisation_sharing",
        requested=["full_name", "email_address"],
    )
    answer: dict[str, Any] = json.loads(body)
    return answer


async def test_an_allowed_read_answers_the_fields_and_records_it_at_the_registrys_time(
    store: Store,
) -> None:
    consent = Consent(ALLOW)
    answer = await read(consent)

    assert answer["data"] == {"full_name": "Maria Santos", "email_address": "maria@example.ph"}
    assert consent.asked[0]["at"] == T0 and consent.asked[0]["subject_country"] == "PH"
    (event,) = store.staged
    assert isinstance(event, DataAccessed)
    assert str(event.event_id) == answer["disclosure_id"]
    assert event.payload.decision == "allow" and event.payload.accessed_at == T0
    assert event.payload.consent_id == "c-1" and event.payload.grant_id == "g-1"


async def test_a_refused_read_is_recorded_and_answered_with_its_record(store: Store) -> None:
    with pytest.raises(Denied) as refused:
        await read(Consent(DENY))
    (event,) = store.staged
    assert event.payload.decision == "deny"  # type: ignore[attr-defined]
    assert refused.value.extra["disclosure_id"] == str(event.event_id)
    assert "no consent" in refused.value.message


async def test_a_restricted_users_read_is_refused_without_asking_the_consent_service(
    store: Store,
) -> None:
    consent = Consent(ALLOW)
    with pytest.raises(Denied):
        await read(consent, "u-restricted")
    assert consent.asked == []
    assert [e.payload.decision for e in store.staged] == ["deny"]  # type: ignore[attr-defined]


async def test_no_answer_from_the_consent_service_is_a_503_and_still_recorded(
    store: Store,
) -> None:
    with pytest.raises(Unavailable):
        await read(Consent(ConsentUnavailable("consent service timed out")))
    (event,) = store.staged
    assert event.payload.decision == "deny"  # type: ignore[attr-defined]
