"""Triage of the incidents detection raises: listed for the security team with their
evidence, declared as a breach (scope pre-filled) or dismissed with a reason, escalated
when nobody decides in time. Its own rooms: models, repository, service, api, handlers."""
