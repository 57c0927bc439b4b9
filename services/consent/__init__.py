"""Consent: purposes, consents and their history, the member-organisation directory, access grants and decisions."""
