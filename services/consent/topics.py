"""The topics the consent service consumes and publishes, by their contract names (the
service's ``topic_prefix`` goes before each: ``ServiceSettings.topic``). Its replicas
also follow their own events and the registry's (``replication.py``)."""

from shared import events

CONSUMED = (events.USER_REGISTERED, events.USER_ERASED, events.USER_RESTRICTION_CHANGED)
PUBLISHED = (
    events.CONSENT_GRANTED,
    events.CONSENT_WITHDRAWN,
    events.ORGANISATION_REGISTERED,
    events.ORGANISATION_UPDATED,
    events.ORGANISATION_RETIRED,
    events.ACCESS_GRANT_CREATED,
    events.ACCESS_GRANT_REVOKED,
)
