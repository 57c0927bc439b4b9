"""Consent rules: pure functions over plain data, no I/O and no framework.

A consent's history is a list of changes; its state at any instant is the fold of the
changes up to that instant. A decision asks: may this organisation receive these data
categories of this user, for this purpose, at this time?
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

CROSS_BORDER = "cross_border_transfer"
MEMBER_SHARING = "member_organisation_sharing"


class Action(StrEnum):
    """What a change of a consent does."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Purpose:
    """A purpose of processing, as decisions see it."""

    code: str
    title: str
    legal_basis: str
    implied_by_registration: bool
    data_categories: tuple[str, ...]
    notice_version: str


@dataclass(frozen=True)
class Organisation:
    """A member organisation of the directory, as decisions see it."""

    slug: str
    name: str
    country: str | None
    kind: str
    standing_access: bool
    retired_at: datetime | None = None
    privacy_contact: str | None = None

    def active_at(self, at: datetime) -> bool:
        """Not retired at ``at``."""
        return self.retired_at is None or at < self.retired_at


@dataclass(frozen=True)
class AccessGrant:
    """An organisation's access to some data categories for a period."""

    grant_id: str
    organisation: str
    data_categories: frozenset[str]
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None = None

    def covers(self, categories: frozenset[str], at: datetime) -> bool:
        """In force at ``at``, never revoked, and covering ``categories``."""
        # A revoked grant covers nothing, whatever ``at`` asks: the revocation is stamped
        # by the clock of the replica that took it, and another replica whose clock is
        # behind must not keep allowing on it once the revocation has reached it.
        in_window = self.valid_from <= at < self.valid_until
        return in_window and self.revoked_at is None and categories <= self.data_categories


def merge_grant(known: AccessGrant | None, change: AccessGrant) -> AccessGrant:
    """A grant's state after ``change``: a revocation, once known, is never undone."""
    if known is not None and known.revoked_at is not None:
        return replace(change, revoked_at=known.revoked_at)
    return change


@dataclass(frozen=True)
class ConsentChange:
    """One entry of the append-only consent history."""

    change_id: str
    consent_id: str
    version: int
    user_id: str
    purpose: str
    action: Action
    at: datetime
    organisation: str | None = None
    country: str | None = None
    data_categories: frozenset[str] = frozenset()
    notice_version: str = ""
    valid_until: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Consent:
    """A consent as it stands after some changes."""

    consent_id: str
    version: int
    user_id: str
    purpose: str
    active: bool
    granted_at: datetime
    organisation: str | None
    country: str | None
    data_categories: frozenset[str]
    notice_version: str
    valid_until: datetime | None
    withdrawn_at: datetime | None = None

    def allows(self, org: Organisation, categories: frozenset[str], at: datetime) -> bool:
        """Active at ``at``, scoped to cover ``org``, and covering ``categories``."""
        if not self.active or at < self.granted_at:
            return False
        if self.valid_until is not None and at >= self.valid_until:
            return False
        if self.organisation is not None and self.organisation != org.slug:
            return False
        if self.country is not None and self.country != org.country:
            return False
        return not self.data_categories or categories <= self.data_categories


def fold(changes: Iterable[ConsentChange], at: datetime | None = None) -> dict[str, Consent]:
    """The consents as they stood at ``at`` (now, if None), from their history."""
    consents: dict[str, Consent] = {}
    for change in sorted(changes, key=lambda c: (c.at, c.version)):
        if at is not None and change.at > at:
            break
        consents[change.consent_id] = apply(consents.get(change.consent_id), change)
    return consents


def apply(current: Consent | None, change: ConsentChange) -> Consent:
    """One change applied to a consent."""
    if change.action is Action.GRANTED:
        return Consent(
            consent_id=change.consent_id,
            version=change.version,
            user_id=change.user_id,
            purpose=change.purpose,
            active=True,
            granted_at=change.at,
            organisation=change.organisation,
            country=change.country,
            data_categories=change.data_categories,
            notice_version=change.notice_version,
            valid_until=change.valid_until,
        )
    if current is None:
        raise ConsentNotFound(change.consent_id)
    return replace(current, version=change.version, active=False, withdrawn_at=change.at)


def withdrawn_unseen(change: ConsentChange) -> Consent:
    """A consent whose withdrawal arrived before its grant (they travel on two topics):
    held as withdrawn, so that the late grant, an older version, changes nothing."""
    return Consent(
        consent_id=change.consent_id,
        version=change.version,
        user_id=change.user_id,
        purpose=change.purpose,
        active=False,
        granted_at=change.at,
        organisation=change.organisation,
        country=change.country,
        data_categories=change.data_categories,
        notice_version=change.notice_version,
        valid_until=change.valid_until,
        withdrawn_at=change.at,
    )


@dataclass(frozen=True)
class Restriction:
    """Whether the user restricted processing of their data, or objected to it."""

    restricted: bool = False
    objected: bool = False

    @property
    def any(self) -> bool:
        """Restricted, or objected to."""
        return self.restricted or self.objected


@dataclass(frozen=True)
class DecisionRequest:
    """One question to the decision API."""

    user_id: str
    organisation: str
    purpose: str
    data_categories: frozenset[str]
    at: datetime
    subject_country: str | None = None


@dataclass(frozen=True)
class Decision:
    """Allow or deny, why, and what decided it."""

    allow: bool
    reason: str
    consent_id: str | None = None
    consent_version: int | None = None
    grant_id: str | None = None
    legal_basis: str | None = None
    organisation_country: str | None = None
    """The organisation's country, when the directory knows it."""


@dataclass
class PolicyView:
    """What a decision needs to see: the directory, grants and one user's consents."""

    purposes: dict[str, Purpose]
    organisations: dict[str, Organisation]
    grants: dict[str, list[AccessGrant]] = field(default_factory=dict)


def decide(
    request: DecisionRequest,
    view: PolicyView,
    consents: Iterable[Consent],
    restriction: Restriction,
) -> Decision:
    """Allow or deny one disclosure, with the reason and what decided it."""
    org = view.organisations.get(request.organisation)
    if org is None:
        if request.purpose not in view.purposes:
            return Decision(False, f"unknown purpose '{request.purpose}'")
        return Decision(False, f"unknown organisation '{request.organisation}'")
    decision = _decide(request, view, org, consents, restriction)
    return replace(decision, organisation_country=org.country)


def _decide(
    request: DecisionRequest,
    view: PolicyView,
    org: Organisation,
    consents: Iterable[Consent],
    restriction: Restriction,
) -> Decision:
    purpose = view.purposes.get(request.purpose)
    if purpose is None:
        return Decision(False, f"unknown purpose '{request.purpose}'")
    if not org.active_at(request.at):
        return Decision(False, f"organisation '{org.slug}' was retired")
    if restriction.any:
        which = "objected to" if restriction.objected else "restricted"
        return Decision(False, f"the user has {which} processing of their data")
    if org.standing_access:
        return Decision(True, "standing access to operate the platform", legal_basis="contract")

    consents = list(consents)
    chosen = _matching(consents, purpose.code, org, request)
    if chosen is None:
        return Decision(
            False, f"no consent for '{purpose.code}' covering '{org.slug}' at that time"
        )
    country = request.subject_country
    crosses_border = org.country is not None and country is not None and country != org.country
    if crosses_border and _matching(consents, CROSS_BORDER, org, request) is None:
        return Decision(
            False,
            f"transfer from {country} to {org.country} needs cross-border consent",
        )
    grant = next(
        (g for g in view.grants.get(org.slug, []) if g.covers(request.data_categories, request.at)),
        None,
    )
    if grant is None:
        return Decision(
            False,
            f"'{org.slug}' holds no access grant for "
            f"{', '.join(sorted(request.data_categories))} at that time",
        )
    return Decision(
        True,
        f"consent to '{purpose.code}' and access grant in force",
        consent_id=chosen.consent_id,
        consent_version=chosen.version,
        grant_id=grant.grant_id,
        legal_basis=purpose.legal_basis,
    )


def _matching(
    consents: list[Consent], purpose: str, org: Organisation, request: DecisionRequest
) -> Consent | None:
    for consent in consents:
        if consent.purpose == purpose and consent.allows(org, request.data_categories, request.at):
            return consent
    return None


class ConsentRuleError(ValueError):
    """A command breaks a consent rule; ``field`` names what it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidField(ConsentRuleError):
    """A value the consent service cannot act on (a 422 at the HTTP edge)."""


class ConsentNotFound(ConsentRuleError):
    """A change names a consent with no history."""

    def __init__(self, consent_id: str) -> None:
        super().__init__("consent_id", f"no consent {consent_id}")


def check_categories(purpose: Purpose, categories: frozenset[str]) -> None:
    """A consent may cover only categories its purpose names."""
    unknown = categories - set(purpose.data_categories)
    if unknown:
        raise InvalidField(
            "data_categories", f"{', '.join(sorted(unknown))} not covered by '{purpose.code}'"
        )


def check_window(valid_from: datetime, valid_until: datetime | None) -> None:
    """A period ends after it starts."""
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidField("valid_until", "must be after valid_from")
