"""Breach: declared breaches, affected subjects, and the 72-hour notification clock."""
