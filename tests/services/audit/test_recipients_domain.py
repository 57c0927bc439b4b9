"""The rules of recipient notices, without I/O: who is asked about what, under which key,
and where a request stands."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.audit.recipients import domain
from services.audit.recipients.domain import Received, Recipient, State
from shared.events import RecipientAction

T = datetime(2026, 5, 1, tzinfo=UTC)
RECEIVED = [
    Received("org-a", "email_address", T),
    Received("org-a", "full_name", T + timedelta(days=2)),
    Received("org-b", "phone_number", T + timedelta(days=1)),
]


@pytest.mark.parametrize("action", [RecipientAction.ERASE, RecipientAction.RESTRICT])
def test_erasure_and_restriction_name_everything_each_organisation_received(
    action: RecipientAction,
) -> None:
    assert domain.recipients(RECEIVED, action) == [
        Recipient("org-a", ("email_address", "full_name"), T + timedelta(days=2)),
        Recipient("org-b", ("phone_number",), T + timedelta(days=1)),
    ]


def test_rectification_asks_only_who_received_a_corrected_category_and_names_only_those() -> None:
    asked = domain.recipients(RECEIVED, RecipientAction.RECTIFY, ["email_address", "country"])
    assert asked == [Recipient("org-a", ("email_address",), T)]  # last of those, not of all


def test_an_erasure_is_one_request_per_person_and_organisation_a_rectification_per_event() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    erase = RecipientAction.ERASE
    assert domain.request_key(erase, "u-1", first, "o") == domain.request_key(
        erase, "u-1", second, "o"
    )
    rectify = RecipientAction.RECTIFY
    assert domain.request_key(rectify, "u-1", first, "o") != domain.request_key(
        rectify, "u-1", second, "o"
    )
    # a separator inside an id does not make two people's keys meet
    assert domain.request_key(erase, "a:b", first, "c") != domain.request_key(
        erase, "a", first, "b:c"
    )
    key = domain.request_key(erase, "u-1", first, "o")
    assert domain.request_id(key) == domain.request_id(key)


def test_a_notice_id_names_its_request_and_nothing_else_parses() -> None:
    request = uuid.uuid4()
    assert domain.parse_notice_id(domain.notice_id(request)) == request
    for bad in (f"breach:{request}:u-1", "recipient:not-a-uuid", str(request)):
        with pytest.raises(ValueError):
            domain.parse_notice_id(bad)


@pytest.mark.parametrize(
    ("restricted", "objected", "before", "action"),
    [
        (True, False, None, "restrict"),
        (False, True, (False, False), "restrict"),
        (True, True, (True, False), "restrict"),  # the objection is new
        (True, False, (True, True), "none"),  # the objection lifted, nothing new
        (False, False, (True, True), "none"),  # lifting sends nothing
        (False, False, None, "none"),
    ],
)
def test_only_turning_a_restriction_or_an_objection_on_asks_the_recipients(
    restricted: bool, objected: bool, before: tuple[bool, bool] | None, action: str
) -> None:
    assert domain.restriction_action(restricted, objected, before) == action


def test_a_request_is_outstanding_then_overdue_until_answered() -> None:
    assert domain.state_of(None, T, T - timedelta(seconds=1)) is State.OUTSTANDING
    assert domain.state_of(None, T, T) is State.OVERDUE
    assert domain.state_of("kept", T, T + timedelta(days=9)) is State.KEPT
    assert domain.state_of("confirmed", T, T) is State.CONFIRMED
