"""The fast layer: use cases, routes and handlers on fakes, with no broker and no database.

The services are built as they run (the same ``build_app`` and ``bootstrap``), with
in-memory parts in place of what would reach out: a :class:`~shared.clock.ManualClock`,
job locks in the process, a fake audit client, FastStream's test broker. What only the
real stack can show (delivery, order, loss, duplicates, restarts) stays in the tests
marked ``integration``.
"""
