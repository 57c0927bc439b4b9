"""Calls of the breach service: declaring, reading, widening, announcing, deciding, closing."""

from typing import Any
from uuid import UUID

from client.call import Call, Paged
from client.models.breach import (
    AnnouncementIn,
    AssessmentIn,
    BreachList,
    BreachOut,
    BreachSummary,
    DecisionIn,
    DeclarationIn,
    DeclaredOut,
    DismissalIn,
    IncidentDeclarationIn,
    IncidentList,
    IncidentOut,
    ObligationsOut,
    PeoplePage,
    PersonOut,
    RegulatorNoticeIn,
    ResendIn,
    ResendOut,
    Scope,
    ScopeOut,
    TimelineOut,
)


def declare(declaration: DeclarationIn, *, idempotency_key: str) -> Call[BreachOut]:
    """Declare a breach; sent again with the same key, it returns the first breach."""
    return Call(
        service="breach",
        method="POST",
        path="/breaches",
        returns=BreachOut,
        body=declaration,
        headers={"Idempotency-Key": idempotency_key},
        retry=True,  # the key makes a retry safe
    )


def breaches(*, status: str | None = None, limit: int = 500) -> Paged[BreachList, BreachSummary]:
    """Breaches, newest first."""
    return Paged(
        service="breach",
        method="GET",
        path="/breaches",
        returns=BreachList,
        params={"status": status, "limit": limit},
        retry=True,
        items=lambda page: page.breaches,
        cursor=lambda page: page.next_after,
        cursor_param="after",
    )


def get(breach_id: UUID | str) -> Call[BreachOut]:
    """One breach: counts, time left, decisions."""
    return Call(
        service="breach", method="GET", path=f"/breaches/{breach_id}", returns=BreachOut, retry=True
    )


def people(
    breach_id: UUID | str, *, unnotified: bool = False, limit: int = 1000
) -> Paged[PeoplePage, PersonOut]:
    """Each affected person's evidence; ``unnotified``: only those neither notified nor
    covered by an announcement."""
    return Paged(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/{'unnotified' if unnotified else 'people'}",
        returns=PeoplePage,
        params={"limit": limit},
        retry=True,
        items=lambda page: page.people,
        cursor=lambda page: page.next_after,
        cursor_param="after",
    )


def add_scope(breach_id: UUID | str, scope: Scope) -> Call[ScopeOut]:
    """Widen the scope: new people get notices, nobody a second one."""
    return Call(
        service="breach",
        method="POST",
        path=f"/breaches/{breach_id}/scopes",
        returns=ScopeOut,
        body=scope.root,
    )


def scopes(breach_id: UUID | str) -> Call[list[ScopeOut]]:
    """The scopes and how far each is resolved."""
    return Call(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/scopes",
        returns=list[ScopeOut],
        retry=True,
    )


def announce(breach_id: UUID | str, announcement: AnnouncementIn) -> Call[BreachOut]:
    """Record the public announcement that covers people who cannot be reached."""
    return Call(
        service="breach",
        method="POST",
        path=f"/breaches/{breach_id}/announcement",
        returns=BreachOut,
        body=announcement,
    )


def decide(breach_id: UUID | str, decision: DecisionIn) -> Call[BreachOut]:
    """Record whether the supervisory authority is told, and why."""
    return Call(
        service="breach",
        method="POST",
        path=f"/breaches/{breach_id}/regulator-decision",
        returns=BreachOut,
        body=decision,
    )


def close(breach_id: UUID | str) -> Call[BreachOut]:
    """Close the breach (Conflict, naming what is missing, until everyone is covered)."""
    return Call(
        service="breach", method="POST", path=f"/breaches/{breach_id}/close", returns=BreachOut
    )


def resend(breach_id: UUID | str, user_ids: list[str] | None = None) -> Call[ResendOut]:
    """Ask for failed notices again: everyone whose notice failed for a temporary reason,
    or the people named (after their address was corrected, say). Not retried on its own:
    a second request after no answer could ask again for notices the first one asked for."""
    return Call(
        service="breach",
        method="POST",
        path=f"/breaches/{breach_id}/resend",
        returns=ResendOut,
        body=ResendIn.model_validate({"user_ids": user_ids}) if user_ids else ResendIn(),
    )


def timeline(breach_id: UUID | str) -> Call[list[TimelineOut]]:
    """Every change of the breach, oldest first."""
    return Call(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/timeline",
        returns=list[TimelineOut],
        retry=True,
    )


def record(breach_id: UUID | str) -> Call[dict[str, Any]]:
    """The record for the supervisory authority (GDPR Art. 33(3), 33(5)), as JSON."""
    return Call(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/report",
        returns=dict[str, Any],
        retry=True,
    )


def record_html(breach_id: UUID | str) -> Call[bytes]:
    """The same record as a page that prints."""
    return Call(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/report.html",
        returns=bytes,
        retry=True,
    )


def obligations(breach_id: UUID | str) -> Call[ObligationsOut]:
    """What the breach owes each regulator and its people, regime by regime."""
    return Call(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/obligations",
        returns=ObligationsOut,
        retry=True,
    )


def assess(breach_id: UUID | str, assessment: AssessmentIn) -> Call[ObligationsOut]:
    """Record the risk assessment's conclusion; the obligations are derived again."""
    return Call(
        service="breach",
        method="POST",
        path=f"/breaches/{breach_id}/assessments",
        returns=ObligationsOut,
        body=assessment,
    )


def regulator_told(
    breach_id: UUID | str, regime: str, notice: RegulatorNoticeIn
) -> Call[ObligationsOut]:
    """Record that a regime's regulator was told (met, or late)."""
    return Call(
        service="breach",
        method="POST",
        path=f"/breaches/{breach_id}/obligations/{regime}/regulator",
        returns=ObligationsOut,
        body=notice,
    )


def regime_record(breach_id: UUID | str, regime: str) -> Call[dict[str, Any]]:
    """One regulator's record, with every item its regime's row requires, as JSON."""
    return Call(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/records/{regime}",
        returns=dict[str, Any],
        retry=True,
    )


def regime_record_file(breach_id: UUID | str, regime: str, kind: str) -> Call[bytes]:
    """One regulator's record as a printable page (``html``) or as PDF (``pdf``)."""
    return Call(
        service="breach",
        method="GET",
        path=f"/breaches/{breach_id}/records/{regime}.{kind}",
        returns=bytes,
        retry=True,
    )


def incidents(*, status: str | None = None, limit: int = 500) -> Call[IncidentList]:
    """Suspected incidents detection raised, the open ones first."""
    return Call(
        service="breach",
        method="GET",
        path="/incidents",
        returns=IncidentList,
        params={"status": status, "limit": limit},
        retry=True,
    )


def incident(incident_id: UUID | str) -> Call[IncidentOut]:
    """One incident with its evidence and the decision on it."""
    return Call(
        service="breach",
        method="GET",
        path=f"/incidents/{incident_id}",
        returns=IncidentOut,
        retry=True,
    )


def declare_incident(
    incident_id: UUID | str, declaration: IncidentDeclarationIn
) -> Call[DeclaredOut]:
    """Declare a breach from an incident (its scope and detection time pre-filled)."""
    return Call(
        service="breach",
        method="POST",
        path=f"/incidents/{incident_id}/declare",
        returns=DeclaredOut,
        body=declaration,
    )


def dismiss_incident(incident_id: UUID | str, reason: str) -> Call[IncidentOut]:
    """Dismiss an incident as no breach, with the reason (kept)."""
    return Call(
        service="breach",
        method="POST",
        path=f"/incidents/{incident_id}/dismiss",
        returns=IncidentOut,
        body=DismissalIn(reason=reason),
    )
