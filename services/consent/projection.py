"""The in-memory projection the decision API answers from.

Loaded from the database at start-up (consents are rebuilt by folding their history),
then kept current by every change the service commits and by the events it consumes.
A decision never touches the database.
"""

from collections import defaultdict
from dataclasses import dataclass, field, replace

from services.consent.domain import (
    AccessGrant,
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
)


@dataclass
class Projection:
    """The directory, the grants and every user's consents, in memory."""

    view: PolicyView = field(default_factory=lambda: PolicyView(purposes={}, organisations={}))
    consents: dict[str, dict[str, Consent]] = field(default_factory=lambda: defaultdict(dict))
    restrictions: dict[str, Restriction] = field(default_factory=dict)
    countries: dict[str, str | None] = field(default_factory=dict)

    def put_purpose(self, purpose: Purpose) -> None:
        """Add or replace a purpose."""
        self.view.purposes[purpose.code] = purpose

    def put_organisation(self, org: Organisation) -> None:
        """Add or replace an organisation."""
        self.view.organisations[org.slug] = org

    def put_grant(self, grant: AccessGrant) -> None:
        """Add or replace an access grant."""
        grants = [
            g for g in self.view.grants.get(grant.organisation, []) if g.grant_id != grant.grant_id
        ]
        self.view.grants[grant.organisation] = [*grants, grant]

    def apply_change(self, change: ConsentChange) -> None:
        """Apply one change of a consent, unless already applied."""
        user = self.consents[change.user_id]
        current = user.get(change.consent_id)
        if current is not None and current.version >= change.version:
            return  # already applied
        user[change.consent_id] = apply(current, change)

    def put_subject(self, user_id: str, country: str | None, restriction: Restriction) -> None:
        """Record a user's country and restriction."""
        self.countries[user_id] = country
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
