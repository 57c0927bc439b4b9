"""The audit's pure rules: leaf encoding, erasable commitments, the consent check."""

from datetime import UTC, datetime, timedelta
from typing import Any

from services.audit.domain import (
    ConsentChange,
    Entry,
    Verdict,
    check,
    personal_digest,
    tree_head_message,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def entry(**changes: Any) -> Entry:
    values: dict[str, Any] = {
        "event_id": "e-1",
        "producer": "registry",
        "accessed_at": T0 + timedelta(hours=1),
        "recorded_at": T0 + timedelta(hours=1, seconds=1),
        "organisation_id": "ph-philexport",
        "organisation_country": "PH",
        "actor": "analyst",
        "subject_id": "u-1",
        "fields": ("email_address",),
        "purpose": "member_organisation_sharing",
        "legal_basis": "consent",
        "legal_reference": None,
        "channel": "registry_api",
        "decision": "allow",
        "decision_reason": None,
        "consent_id": "c-1",
        "consent_version": 1,
        "grant_id": "g-1",
        "personal_digest": personal_digest(b"salt", "PH"),
    }
    values.update(changes)
    return Entry(**values)


def change(version: int, action: str, at: datetime, **extra: Any) -> ConsentChange:
    values: dict[str, Any] = {
        "consent_id": "c-1",
        "version": version,
        "action": action,
        "user_id": "u-1",
        "purpose": "member_organisation_sharing",
        "organisation": "ph-philexport",
        "country": None,
        "at": at,
        "valid_until": None,
    }
    values.update(extra)
    return ConsentChange(**values)


GRANTED = change(1, "granted", T0)


def test_a_disclosure_under_a_consent_in_force_is_valid() -> None:
    assert check(entry(), [GRANTED])[0] is Verdict.VALID


def test_a_disclosure_after_the_withdrawal_is_a_violation() -> None:
    withdrawn = change(2, "withdrawn", T0 + timedelta(minutes=30))
    verdict, reason = check(entry(), [GRANTED, withdrawn])
    assert verdict is Verdict.VIOLATION and "withdrawn" in reason


def test_a_disclosure_before_the_withdrawal_stays_valid() -> None:
    withdrawn = change(2, "withdrawn", T0 + timedelta(hours=2))
    assert check(entry(), [GRANTED, withdrawn])[0] is Verdict.VALID


def test_a_consent_for_another_organisation_user_purpose_or_time_is_a_violation() -> None:
    cases = [
        [change(1, "granted", T0, organisation="th-board-of-trade")],
        [change(1, "granted", T0, user_id="u-2")],
        [change(1, "granted", T0, purpose="feedback_contact")],
        [change(1, "granted", T0 + timedelta(hours=2))],
        [change(1, "granted", T0, valid_until=T0 + timedelta(minutes=1))],
        [],
    ]
    for history in cases:
        assert check(entry(), history)[0] is Verdict.VIOLATION, history


def test_refusals_and_legal_obligations_are_judged_without_consent() -> None:
    assert check(entry(decision="deny"), [])[0] is Verdict.NOT_DISCLOSED
    lawful = entry(legal_basis="legal_obligation", legal_reference="Subpoena 7", consent_id=None)
    assert check(lawful, [])[0] is Verdict.VALID
    unreferenced = entry(legal_basis="legal_obligation", consent_id=None)
    assert check(unreferenced, [])[0] is Verdict.VIOLATION
    assert check(entry(consent_id=None), [])[0] is Verdict.VIOLATION


def test_the_leaf_commits_to_every_field_and_not_to_the_country_in_clear() -> None:
    base = entry()
    assert b"subject_country" not in base.leaf()
    assert entry(actor="someone else").leaf() != base.leaf()
    assert entry(personal_digest=personal_digest(b"salt", "TH")).leaf() != base.leaf()
    assert personal_digest(b"other salt", "PH") != personal_digest(b"salt", "PH")


def test_the_tree_head_message_names_size_root_and_time() -> None:
    message = tree_head_message(42, b"\x01" * 32, T0)
    assert message.endswith(f"42\n{'01' * 32}\n{int(T0.timestamp() * 1000)}".encode())
