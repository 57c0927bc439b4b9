"""Runs one outbox relay until killed: ``python -m tests.support.run_relay SCHEMA BATCH``."""

import asyncio
import sys

from shared.db import create_engine
from shared.logging import configure_logging
from shared.relay import OutboxRelay
from tests.support import DATABASE_URL, KAFKA


async def main(schema: str, batch_size: int) -> None:
    configure_logging("test-relay", "WARNING")
    engine = create_engine(DATABASE_URL, schema)
    relay = OutboxRelay(
        schema=schema,
        engine=engine,
        database_url=DATABASE_URL,
        bootstrap_servers=KAFKA,
        batch_size=batch_size,
        poll_seconds=0.2,
    )
    await relay.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
