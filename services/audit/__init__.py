"""Audit: the append-only, verifiable log of every disclosure of personal data."""
