"""The topics the detection service consumes and publishes, by their contract names (the
service's ``topic_prefix`` goes before each: ``ServiceSettings.topic``)."""

from shared import events

CONSUMED = (
    events.DATA_ACCESSED,
    events.AUDIT_VIOLATION_DETECTED,
    events.ACCESS_GRANT_CREATED,
    events.ACCESS_GRANT_REVOKED,
    events.BREACH_INCIDENT_TRIAGED,
)
PUBLISHED = (events.SECURITY_ALERT_RAISED,)
