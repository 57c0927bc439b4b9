"""The fault suite's cluster: three Kafka brokers of its own (devtools/cluster.py), started
for the suite if they are not running and stopped after it if it started them (after
this package's tests, not the whole run's: `make test` goes on without three idle JVMs)."""

from collections.abc import AsyncIterator

import pytest

from devtools.cluster import Cluster


@pytest.fixture(scope="package")
async def cluster() -> AsyncIterator[Cluster]:
    """Three combined broker+controller nodes, every one running and registered."""
    made = Cluster()
    already = await made.running()
    await made.start()  # also starts a node a killed run left down
    try:
        yield made
    finally:
        if not already:
            await made.stop()
