"""The topics the audit service consumes and publishes, by their contract names (the
service's ``topic_prefix`` goes before each: ``ServiceSettings.topic``)."""

from shared import events

CONSUMED = (
    events.DATA_ACCESSED,
    events.CONSENT_GRANTED,
    events.CONSENT_WITHDRAWN,
    events.USER_ERASED,
    events.USER_UPDATED,
    events.USER_RESTRICTION_CHANGED,
    events.NOTIFICATION_DELIVERED,
    events.NOTIFICATION_FAILED,
)
PUBLISHED = (
    events.AUDIT_VIOLATION_DETECTED,
    events.RECIPIENT_NOTIFICATION_REQUESTED,
    events.RECIPIENT_REQUEST_ESCALATED,
)
