"""The topics the notifier consumes and publishes, by their contract names (the
service's ``topic_prefix`` goes before each: ``ServiceSettings.topic``)."""

from shared import events

CONSUMED = (
    events.BREACH_NOTIFICATION_REQUESTED,
    events.RECIPIENT_NOTIFICATION_REQUESTED,
    events.USER_REGISTERED,
    events.USER_UPDATED,
    events.USER_ERASED,
    events.ORGANISATION_REGISTERED,
    events.ORGANISATION_UPDATED,
    events.ORGANISATION_RETIRED,
)
PUBLISHED = (
    events.NOTIFICATION_DELIVERED,
    events.NOTIFICATION_FAILED,
    events.SMTP_UNAVAILABLE,
    events.SMTP_RECOVERED,
)
