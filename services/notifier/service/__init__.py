"""The notifier's use cases, one module per job: contacts, notices, waiting, sending,
evidence, bounces."""
