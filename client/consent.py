"""Calls of the consent service: the directory, grants, a person's consents."""

from datetime import datetime
from urllib.parse import quote
from uuid import UUID

from client.call import Call
from client.models.consent import (
    ConsentGrantRequest,
    ConsentOut,
    DecisionOut,
    GrantCreate,
    GrantOut,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    Receipt,
    WithdrawRequest,
)


def organisations() -> Call[list[OrganisationOut]]:
    """The member-organisation directory."""
    return Call(
        service="consent",
        method="GET",
        path="/organisations",
        returns=list[OrganisationOut],
        retry=True,
    )


def add_organisation(organisation: OrganisationCreate) -> Call[OrganisationOut]:
    """Add an organisation to the directory (admin)."""
    return Call(
        service="consent",
        method="POST",
        path="/organisations",
        returns=OrganisationOut,
        body=organisation,
    )


def update_organisation(slug: str, update: OrganisationUpdate) -> Call[OrganisationOut]:
    """Change an organisation's name or privacy contact (admin)."""
    return Call(
        service="consent",
        method="PATCH",
        path=f"/organisations/{quote(slug, safe='')}",
        returns=OrganisationOut,
        body=update,
    )


def retire_organisation(slug: str) -> Call[None]:
    """Retire an organisation (admin)."""
    return Call(
        service="consent", method="POST", path=f"/organisations/{quote(slug, safe='')}/retire"
    )


def grants(organisation: str | None = None) -> Call[list[GrantOut]]:
    """Access grants (an organisation sees only its own)."""
    return Call(
        service="consent",
        method="GET",
        path="/grants",
        returns=list[GrantOut],
        params={"organisation": organisation},
        retry=True,
    )


def add_grant(grant: GrantCreate) -> Call[GrantOut]:
    """Grant an organisation time-bound access (admin)."""
    return Call(service="consent", method="POST", path="/grants", returns=GrantOut, body=grant)


def revoke_grant(grant_id: UUID | str) -> Call[GrantOut]:
    """Revoke an access grant before its end (admin; idempotent)."""
    return Call(
        service="consent",
        method="POST",
        path=f"/grants/{grant_id}/revoke",
        returns=GrantOut,
        retry=True,
    )


def consents(user_id: str, *, at: datetime | None = None) -> Call[list[ConsentOut]]:
    """A person's consents as they stood at ``at`` (default: now)."""
    return Call(
        service="consent",
        method="GET",
        path=f"/users/{quote(user_id, safe='')}/consents",
        returns=list[ConsentOut],
        params={"at": at},
        retry=True,
    )


def grant_consent(request: ConsentGrantRequest) -> Call[Receipt]:
    """Grant consent; returns the receipt."""
    return Call(service="consent", method="POST", path="/consents", returns=Receipt, body=request)


def withdraw_consent(consent_id: str, request: WithdrawRequest) -> Call[Receipt]:
    """Withdraw a consent; returns the receipt."""
    return Call(
        service="consent",
        method="POST",
        path=f"/consents/{quote(consent_id, safe='')}/withdraw",
        returns=Receipt,
        body=request,
    )


def decide(
    *,
    user_id: str,
    organisation: str,
    purpose: str,
    data_categories: list[str],
    subject_country: str | None = None,
    at: datetime | None = None,
) -> Call[DecisionOut]:
    """May ``organisation`` receive these categories of the user's data for ``purpose``
    (now, or at ``at``)? The platform's or an admin's question."""
    question: dict[str, object] = {
        "user_id": user_id,
        "organisation": organisation,
        "purpose": purpose,
        "data_categories": data_categories,
    }
    if subject_country is not None:
        question["subject_country"] = subject_country
    if at is not None:
        question["at"] = at.isoformat()
    return Call(
        service="consent",
        method="POST",
        path="/decisions",
        returns=DecisionOut,
        body=question,
        retry=True,  # a question changes nothing
    )
