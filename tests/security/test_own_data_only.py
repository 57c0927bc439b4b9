"""What an allowed caller gets holds only what is theirs: an organisation sees only its
own disclosures and grants, a data subject only their own report, the public only the
published profile, and a refusal does not tell who is registered."""

import csv
import io
import json
from typing import Any

import pytest

from tests.security.stack import (
    ADMIN,
    PH_ORG,
    SHARING,
    TH_ORG,
    Seed,
    Stack,
    org_token,
    subject_token,
)

pytestmark = pytest.mark.integration

ORGANISATIONS = (PH_ORG, TH_ORG)


@pytest.mark.parametrize("organisation", ORGANISATIONS)
def test_an_organisation_sees_only_its_own_disclosures(
    organisation: str, security_stack: Stack, seeded: Seed
) -> None:
    mine = org_token(organisation)
    with security_stack.client("audit") as audit:
        page = audit.get("/disclosures", params={"limit": 1000}, headers=mine)
        about = audit.get("/disclosures", params={"subject": seeded.user_id}, headers=mine)
        lines = audit.get("/disclosures/export", params={"format": "jsonl"}, headers=mine)
        table = audit.get("/disclosures/export", params={"format": "csv"}, headers=mine)
    for response in (page, about, lines, table):
        assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = [
        *page.json()["items"],
        *about.json()["items"],
        *(json.loads(line) for line in lines.text.splitlines() if line),
        *csv.DictReader(io.StringIO(table.text)),
    ]
    assert {row["organisation_id"] for row in rows} == {organisation}
    assert set(seeded.audit_seqs[organisation]) <= {int(row["seq"]) for row in rows}


def test_an_organisation_reaches_no_entry_of_another_by_its_position(
    security_stack: Stack, seeded: Seed
) -> None:
    theirs = seeded.audit_seqs[TH_ORG]
    with security_stack.client("audit") as audit:
        for seq in theirs:
            entry = audit.get(f"/entries/{seq}", headers=org_token(PH_ORG))
            proof = audit.get(
                "/proofs/inclusion",
                params={"seq": seq, "tree_size": max(theirs) + 1},
                headers=org_token(PH_ORG),
            )
            assert (entry.status_code, proof.status_code) == (404, 404), (entry.text, proof.text)
            assert audit.get(f"/entries/{seq}", headers=org_token(TH_ORG)).status_code == 200


def test_an_organisation_sees_only_its_own_grants(security_stack: Stack) -> None:
    with security_stack.client("consent") as consent:
        response = consent.get("/grants", headers=org_token(PH_ORG))
    assert response.status_code == 200, response.text
    assert {grant["organisation"] for grant in response.json()} == {PH_ORG}


def test_a_subjects_report_and_receipts_hold_only_their_own(
    security_stack: Stack, seeded: Seed
) -> None:
    me = subject_token(seeded.user_id)
    with security_stack.client("audit") as audit:
        report = audit.get(f"/subjects/{seeded.user_id}/report", headers=me)
    with security_stack.client("consent") as consent:
        receipt = consent.get(f"/receipts/{seeded.receipt_id}", headers=me)
        history = consent.get(f"/users/{seeded.user_id}/consents/history", headers=me)
    assert report.status_code == 200, report.text
    items = report.json()["items"]
    assert items and {item["subject_id"] for item in items} == {seeded.user_id}
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["pii_principal_id"] == seeded.user_id
    assert history.status_code == 200, history.text
    assert seeded.consent_id in {change["consent_id"] for change in history.json()}


REGISTRATION_ONLY = {
    "full_name",
    "email_address",
    "country_of_residence",
    "company_registration_number",
    "business_support_network",
    "referral_source",
    "personal_address",
    "phone_number",
    "tax_number",
    "user_id",
}


def test_the_public_sees_a_published_profile_and_no_registration_data(
    security_stack: Stack, seeded: Seed
) -> None:
    with security_stack.client("registry") as registry:
        listed = registry.get("/profiles", params={"limit": 100})
        one = registry.get(f"/profiles/{seeded.profile_id}")
        held = registry.get(f"/users/{seeded.user_id}", headers=ADMIN)
    assert (listed.status_code, one.status_code, held.status_code) == (200, 200, 200)
    profiles = [*listed.json()["items"], one.json()]
    assert seeded.profile_id in {str(p["profile_id"]) for p in profiles}
    for profile in profiles:
        assert not REGISTRATION_ONLY & profile.keys(), profile
    email = held.json()["user"]["email_address"]
    assert email not in listed.text and email not in one.text


def test_an_organisation_is_refused_alike_for_an_unknown_user_and_one_without_consent(
    security_stack: Stack, seeded: Seed
) -> None:
    params = {"purpose": SHARING, "fields": "full_name"}
    with security_stack.client("registry") as registry:
        # The other user consented to sharing with the Thai board only.
        known = registry.get(
            f"/users/{seeded.other_user_id}/data", params=params, headers=org_token(PH_ORG)
        )
        unknown = registry.get(
            "/users/no-such-user-0001/data", params=params, headers=org_token(PH_ORG)
        )
    assert known.status_code == unknown.status_code == 403, (known.text, unknown.text)

    def shape(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body["detail"].items() if k != "disclosure_id"}

    assert shape(known.json()) == shape(unknown.json())
