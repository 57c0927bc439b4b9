"""The notifier's use cases, one module per job: contacts, sending, evidence, bounces."""
