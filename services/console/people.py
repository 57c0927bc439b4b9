"""The administrators' and a data subject's use cases: the directory, grants, and what a
person may see of their own data."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from client import AsyncClient, Conflict, Invalid, audit, consent
from client.models.audit import Disclosure, RecipientNotice
from client.models.consent import (
    ConsentOut,
    GrantCreate,
    GrantOut,
    OrganisationCreate,
    OrganisationOut,
)
from services.console import forms
from services.console.domain import split_list

KINDS = ("governmental", "non_governmental", "private", "regional")


async def directory(
    api: AsyncClient, organisation: str | None
) -> tuple[list[OrganisationOut], list[GrantOut]]:
    """The member organisations and the grants (of one organisation, if named)."""
    organisations, grants = await asyncio.gather(
        api.send(consent.organisations()), api.send(consent.grants(organisation))
    )
    return organisations, grants


async def add_organisation(api: AsyncClient, form: forms.Form) -> forms.Checked:
    """Add an organisation to the directory; the problems by field."""
    body = {
        "slug": forms.text(form, "slug"),
        "name": forms.text(form, "name"),
        "kind": forms.text(form, "kind"),
        "country": (forms.text(form, "country") or "").upper() or None,
        "privacy_contact": forms.text(form, "privacy_contact"),
        "standing_access": bool(forms.text(form, "standing_access")),
    }
    checked = forms.check(
        forms.Checked({k: v for k, v in body.items() if v is not None}), OrganisationCreate
    )
    if checked.ok:
        try:
            await api.send(
                consent.add_organisation(OrganisationCreate.model_validate(checked.body))
            )
        except (Invalid, Conflict) as exc:
            forms.from_api(checked, exc)
    return checked


async def add_grant(api: AsyncClient, form: forms.Form, now: datetime) -> forms.Checked:
    """Grant an organisation time-bound access; the problems by field."""
    days = forms.text(form, "days")
    body: dict[str, object] = {
        "organisation": forms.text(form, "organisation"),
        "data_categories": split_list(forms.text(form, "data_categories") or "") or None,
    }
    checked = forms.Checked({k: v for k, v in body.items() if v is not None})
    try:
        count = float(days or "")
        if not 0 < count <= 3660:
            raise ValueError(days)
        checked.body["valid_from"] = now.isoformat()
        checked.body["valid_until"] = (now + timedelta(days=count)).isoformat()
    except ValueError:
        checked.errors["days"] = "a number of days, more than 0 and at most 3660"
    if checked.ok:
        forms.check(checked, GrantCreate)
    if checked.ok:
        try:
            await api.send(consent.add_grant(GrantCreate.model_validate(checked.body)))
        except (Invalid, Conflict) as exc:
            forms.from_api(checked, exc)
    return checked


async def revoke_grant(api: AsyncClient, grant_id: UUID) -> GrantOut:
    """Revoke a grant before its end (idempotent)."""
    return await api.send(consent.revoke_grant(grant_id))


def now() -> datetime:
    """The time a grant starts (the consent service judges it by its own clock)."""
    return datetime.now(UTC)


async def my_data(
    api: AsyncClient, user_id: str, *, cursor: int | None, limit: int
) -> tuple[list[Disclosure], list[RecipientNotice], int | None]:
    """Who received my data, when, under which basis; and whom the platform told."""
    call = audit.subject_report(user_id, limit=limit)
    if cursor is not None:
        call = replace(call, params={**call.params, "cursor": cursor})
    report = await api.send(call)
    return report.items, report.recipient_notices or [], report.next_cursor


async def my_consents(api: AsyncClient, user_id: str) -> list[ConsentOut]:
    """My consents as they stand now."""
    return await api.send(consent.consents(user_id))
