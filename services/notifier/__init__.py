"""Notifier: the contact directory and evidence of every notice delivered."""
