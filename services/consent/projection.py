"""The in-memory projection the decision API answers from.

Loaded from the database at start-up (consents are rebuilt by folding their history),
then kept current by every change the service commits and by the events it consumes.
A decision never touches the database.
"""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.consent.domain import (
    AccessGrant,
    Action,
    Consent,
    ConsentChange,
    Decision,
    DecisionRequest,
    Organisation,
    PolicyView,
    Purpose,
    Restriction,
    apply,
    decide,
    merge_grant,
    withdrawn_unseen,
)


@dataclass
class Projection:
    """The directory, the grants and every user's consents, in memory."""

    origin: str = ""
    """The deployment whose changes this projection follows (the service's schema); its
    events carry it, so replicas of another deployment on the same broker ignore them."""
    view: PolicyView = field(default_factory=lambda: PolicyView(purposes={}, organisations={}))
    consents: dict[str, dict[str, Consent]] = field(default_factory=lambda: defaultdict(dict))
    restrictions: dict[str, Restriction] = field(default_factory=dict)
    countries: dict[str, str | None] = field(default_factory=dict)
    stamps: dict[str, datetime] = field(default_factory=dict)
    """Each organisation's ``updated_at`` as last applied: older changes are ignored."""

    def put_purpose(self, purpose: Purpose) -> None:
        """Add or replace a purpose."""
        self.view.purposes[purpose.code] = purpose

    def put_organisation(self, org: Organisation, stamp: datetime | None = None) -> bool:
        """Add or replace an organisation, unless a change stamped later was applied;
        a retirement, once known, stays. True if anything was applied."""
        known = self.stamps.get(org.slug)
        if stamp is not None and known is not None and stamp <= known:
            return False
        held = self.view.organisations.get(org.slug)
        if held is not None and held.retired_at is not None:
            org = replace(org, retired_at=held.retired_at)
        self.view.organisations[org.slug] = org
        if stamp is not None:
            self.stamps[org.slug] = stamp
        return True

    def put_grant(self, grant: AccessGrant) -> None:
        """Add or replace an access grant; a revocation, once applied, stays."""
        grants = self.view.grants.get(grant.organisation, [])
        known = next((g for g in grants if g.grant_id == grant.grant_id), None)
        others = [g for g in grants if g.grant_id != grant.grant_id]
        self.view.grants[grant.organisation] = [*others, merge_grant(known, grant)]

    def grant(self, organisation: str, grant_id: str) -> AccessGrant | None:
        """One grant as the projection holds it."""
        return next(
            (g for g in self.view.grants.get(organisation, []) if g.grant_id == grant_id), None
        )

    def apply_change(self, change: ConsentChange) -> None:
        """Apply one change of a consent, unless already applied."""
        user = self.consents[change.user_id]
        current = user.get(change.consent_id)
        if current is not None and current.version >= change.version:
            return  # already applied
        if current is None and change.action is Action.WITHDRAWN:
            user[change.consent_id] = withdrawn_unseen(change)
            return
        user[change.consent_id] = apply(current, change)

    def put_subject(self, user_id: str, country: str | None, restriction: Restriction) -> None:
        """Record a user's country and restriction."""
        self.countries[user_id] = country
        self.restrictions[user_id] = restriction

    def register_subject(self, user_id: str, country: str | None) -> None:
        """Record a registered user's country, keeping a restriction that arrived first."""
        self.countries[user_id] = country
        self.restrictions.setdefault(user_id, Restriction())

    def restrict_subject(self, user_id: str, restriction: Restriction) -> None:
        """Record a user's restriction or objection, keeping their country."""
        self.restrictions[user_id] = restriction

    def forget_subject(self, user_id: str) -> None:
        """Drop everything held about an erased user."""
        self.consents.pop(user_id, None)
        self.countries.pop(user_id, None)
        self.restrictions.pop(user_id, None)

    def decide(self, request: DecisionRequest) -> Decision:
        """Answer from memory; the subject's stored country is used when none is given."""
        if request.subject_country is None and self.countries.get(request.user_id):
            request = replace(request, subject_country=self.countries[request.user_id])
        return decide(
            request,
            self.view,
            self.consents.get(request.user_id, {}).values(),
            self.restrictions.get(request.user_id, Restriction()),
        )
