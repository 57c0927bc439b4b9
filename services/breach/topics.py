"""The topics the breach service consumes and publishes, by their contract names (the
service's ``topic_prefix`` goes before each: ``ServiceSettings.topic``)."""

from shared import events

CONSUMED = (
    events.NOTIFICATION_DELIVERED,
    events.NOTIFICATION_FAILED,
    events.USER_REGISTERED,
    events.USER_UPDATED,
    events.USER_ERASED,
    events.SMTP_UNAVAILABLE,
    events.SMTP_RECOVERED,
    events.SECURITY_ALERT_RAISED,
)
PUBLISHED = (
    events.BREACH_DETECTED,
    events.BREACH_NOTIFICATION_REQUESTED,
    events.BREACH_DEADLINE_WARNING,
    events.BREACH_DEADLINE_MISSED,
    events.BREACH_OBLIGATION_REQUIRED,
    events.BREACH_OBLIGATION_WARNING,
    events.BREACH_OBLIGATION_MISSED,
    events.BREACH_INCIDENT_TRIAGED,
    events.BREACH_INCIDENT_ESCALATED,
)
