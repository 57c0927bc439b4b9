"""Consent: purposes, consents and their history, organisations, grants and decisions."""
