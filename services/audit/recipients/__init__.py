"""Recipient notices: telling every organisation that received a person's data when the
person erases, rectifies or restricts it, and tracking its answer (docs/recipients.md)."""
