"""Event contracts: the envelope, every event of the catalogue, and topic names.

Topic names are derived once here (``<event_type>.v<version>``) and imported by the
services as constants; no service spells a topic as a string literal.
"""

from shared.events.access import DataAccessed, DataAccessedPayload, Decision, LegalBasis
from shared.events.audit import ViolationDetected, ViolationDetectedPayload
from shared.events.breach import (
    BreachDeadlineMissed,
    BreachDeadlineWarning,
    BreachDetected,
    BreachDetectedPayload,
    BreachKind,
    BreachNotificationRequested,
    BreachObligationMissed,
    BreachObligationRequired,
    BreachObligationWarning,
    DeadlinePayload,
    NotificationDelivered,
    NotificationFailed,
    NotificationOutcomePayload,
    NotificationRequestedPayload,
    ObligationPayload,
)
from shared.events.consent import ConsentChangedPayload, ConsentGranted, ConsentWithdrawn
from shared.events.directory import (
    AccessGrantCreated,
    AccessGrantPayload,
    AccessGrantRevoked,
    OrganisationPayload,
    OrganisationRegistered,
    OrganisationRetired,
    OrganisationUpdated,
)
from shared.events.envelope import Envelope, Payload
from shared.events.mailserver import (
    SmtpRecovered,
    SmtpRecoveredPayload,
    SmtpUnavailable,
    SmtpUnavailablePayload,
)
from shared.events.recipients import (
    RECIPIENT_NOTICE_KIND,
    RecipientAction,
    RecipientEscalatedPayload,
    RecipientNotificationRequested,
    RecipientNotificationRequestedPayload,
    RecipientRequestEscalated,
)
from shared.events.security import (
    AUDIT_SEQS_CAP,
    AlertCounts,
    AlertRaised,
    AlertRaisedPayload,
    IncidentEscalated,
    IncidentEscalatedPayload,
    IncidentTriaged,
    IncidentTriagedPayload,
    Rule,
    TriageDecision,
)
from shared.events.users import (
    ProfilePublished,
    ProfilePublishedPayload,
    ProfileUnpublished,
    ProfileUnpublishedPayload,
    UserErased,
    UserErasedPayload,
    UserRegistered,
    UserRegisteredPayload,
    UserRestrictionChanged,
    UserRestrictionChangedPayload,
    UserUpdated,
    UserUpdatedPayload,
)

CATALOGUE: tuple[type[Envelope], ...] = (
    UserRegistered,
    UserUpdated,
    UserErased,
    UserRestrictionChanged,
    ProfilePublished,
    ProfileUnpublished,
    DataAccessed,
    ConsentGranted,
    ConsentWithdrawn,
    ViolationDetected,
    BreachDetected,
    BreachNotificationRequested,
    BreachDeadlineWarning,
    BreachDeadlineMissed,
    BreachObligationRequired,
    BreachObligationWarning,
    BreachObligationMissed,
    NotificationDelivered,
    NotificationFailed,
    SmtpUnavailable,
    SmtpRecovered,
    OrganisationRegistered,
    OrganisationUpdated,
    OrganisationRetired,
    AccessGrantCreated,
    AccessGrantRevoked,
    RecipientNotificationRequested,
    RecipientRequestEscalated,
    AlertRaised,
    IncidentTriaged,
    IncidentEscalated,
)
EVENT_BY_TOPIC: dict[str, type[Envelope]] = {event.topic(): event for event in CATALOGUE}


def dlq_topic(topic: str) -> str:
    """The dead-letter topic for ``topic``."""
    return f"{topic}.dlq"


USER_REGISTERED = UserRegistered.topic()
USER_UPDATED = UserUpdated.topic()
USER_ERASED = UserErased.topic()
USER_RESTRICTION_CHANGED = UserRestrictionChanged.topic()
PROFILE_PUBLISHED = ProfilePublished.topic()
PROFILE_UNPUBLISHED = ProfileUnpublished.topic()
DATA_ACCESSED = DataAccessed.topic()
CONSENT_GRANTED = ConsentGranted.topic()
CONSENT_WITHDRAWN = ConsentWithdrawn.topic()
AUDIT_VIOLATION_DETECTED = ViolationDetected.topic()
BREACH_DETECTED = BreachDetected.topic()
BREACH_NOTIFICATION_REQUESTED = BreachNotificationRequested.topic()
BREACH_DEADLINE_WARNING = BreachDeadlineWarning.topic()
BREACH_DEADLINE_MISSED = BreachDeadlineMissed.topic()
BREACH_OBLIGATION_REQUIRED = BreachObligationRequired.topic()
BREACH_OBLIGATION_WARNING = BreachObligationWarning.topic()
BREACH_OBLIGATION_MISSED = BreachObligationMissed.topic()
NOTIFICATION_DELIVERED = NotificationDelivered.topic()
NOTIFICATION_FAILED = NotificationFailed.topic()
SMTP_UNAVAILABLE = SmtpUnavailable.topic()
SMTP_RECOVERED = SmtpRecovered.topic()
ORGANISATION_REGISTERED = OrganisationRegistered.topic()
ORGANISATION_UPDATED = OrganisationUpdated.topic()
ORGANISATION_RETIRED = OrganisationRetired.topic()
ACCESS_GRANT_CREATED = AccessGrantCreated.topic()
ACCESS_GRANT_REVOKED = AccessGrantRevoked.topic()
RECIPIENT_NOTIFICATION_REQUESTED = RecipientNotificationRequested.topic()
RECIPIENT_REQUEST_ESCALATED = RecipientRequestEscalated.topic()
SECURITY_ALERT_RAISED = AlertRaised.topic()
BREACH_INCIDENT_TRIAGED = IncidentTriaged.topic()
BREACH_INCIDENT_ESCALATED = IncidentEscalated.topic()

__all__ = [
    "ACCESS_GRANT_CREATED",
    "ACCESS_GRANT_REVOKED",
    "AUDIT_SEQS_CAP",
    "AUDIT_VIOLATION_DETECTED",
    "BREACH_DEADLINE_MISSED",
    "BREACH_DEADLINE_WARNING",
    "BREACH_DETECTED",
    "BREACH_INCIDENT_ESCALATED",
    "BREACH_INCIDENT_TRIAGED",
    "BREACH_NOTIFICATION_REQUESTED",
    "BREACH_OBLIGATION_MISSED",
    "BREACH_OBLIGATION_REQUIRED",
    "BREACH_OBLIGATION_WARNING",
    "CATALOGUE",
    "CONSENT_GRANTED",
    "CONSENT_WITHDRAWN",
    "DATA_ACCESSED",
    "EVENT_BY_TOPIC",
    "NOTIFICATION_DELIVERED",
    "NOTIFICATION_FAILED",
    "ORGANISATION_REGISTERED",
    "ORGANISATION_RETIRED",
    "ORGANISATION_UPDATED",
    "PROFILE_PUBLISHED",
    "PROFILE_UNPUBLISHED",
    "RECIPIENT_NOTICE_KIND",
    "RECIPIENT_NOTIFICATION_REQUESTED",
    "RECIPIENT_REQUEST_ESCALATED",
    "SECURITY_ALERT_RAISED",
    "SMTP_RECOVERED",
    "SMTP_UNAVAILABLE",
    "USER_ERASED",
    "USER_REGISTERED",
    "USER_RESTRICTION_CHANGED",
    "USER_UPDATED",
    "AccessGrantCreated",
    "AccessGrantPayload",
    "AccessGrantRevoked",
    "AlertCounts",
    "AlertRaised",
    "AlertRaisedPayload",
    "BreachDeadlineMissed",
    "BreachDeadlineWarning",
    "BreachDetected",
    "BreachDetectedPayload",
    "BreachKind",
    "BreachNotificationRequested",
    "BreachObligationMissed",
    "BreachObligationRequired",
    "BreachObligationWarning",
    "ConsentChangedPayload",
    "ConsentGranted",
    "ConsentWithdrawn",
    "DataAccessed",
    "DataAccessedPayload",
    "DeadlinePayload",
    "Decision",
    "Envelope",
    "IncidentEscalated",
    "IncidentEscalatedPayload",
    "IncidentTriaged",
    "IncidentTriagedPayload",
    "LegalBasis",
    "NotificationDelivered",
    "NotificationFailed",
    "NotificationOutcomePayload",
    "NotificationRequestedPayload",
    "ObligationPayload",
    "OrganisationPayload",
    "OrganisationRegistered",
    "OrganisationRetired",
    "OrganisationUpdated",
    "Payload",
    "ProfilePublished",
    "ProfilePublishedPayload",
    "ProfileUnpublished",
    "ProfileUnpublishedPayload",
    "RecipientAction",
    "RecipientEscalatedPayload",
    "RecipientNotificationRequested",
    "RecipientNotificationRequestedPayload",
    "RecipientRequestEscalated",
    "Rule",
    "SmtpRecovered",
    "SmtpRecoveredPayload",
    "SmtpUnavailable",
    "SmtpUnavailablePayload",
    "TriageDecision",
    "UserErased",
    "UserErasedPayload",
    "UserRegistered",
    "UserRegisteredPayload",
    "UserRestrictionChanged",
    "UserRestrictionChangedPayload",
    "UserUpdated",
    "UserUpdatedPayload",
    "ViolationDetected",
    "ViolationDetectedPayload",
    "dlq_topic",
]
