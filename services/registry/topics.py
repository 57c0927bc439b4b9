"""The topics the registry consumes and publishes, by their contract names (the
service's ``topic_prefix`` goes before each: ``ServiceSettings.topic``)."""

from shared import events

CONSUMED = (events.CONSENT_GRANTED, events.CONSENT_WITHDRAWN)
PUBLISHED = (
    events.USER_REGISTERED,
    events.USER_UPDATED,
    events.USER_ERASED,
    events.USER_RESTRICTION_CHANGED,
    events.PROFILE_PUBLISHED,
    events.PROFILE_UNPUBLISHED,
    events.DATA_ACCESSED,
)
