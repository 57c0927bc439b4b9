"""A probe consumer in its own process, so a test can make it die for real.

``python -m tests.support.run_consumer SCHEMA EVENT_NAME GROUP CRASH_FLAG CALLS_FILE``:
each delivery appends a line to CALLS_FILE; if CRASH_FLAG exists, the process removes it
and exits with status 17 right after its database transaction commits, before the
offset is committed.
"""

import asyncio
import os
import sys
from pathlib import Path

from shared.app import create_broker
from shared.db import create_engine, create_sessions
from shared.logging import configure_logging
from tests.support import ProbeEvent, probe_event
from tests.support.probe_app import add_probe_subscriber, probe_settings

CRASH_STATUS = 17


async def main(schema: str, event_name: str, group: str, crash_flag: Path, calls: Path) -> None:
    configure_logging("test-consumer", "WARNING")
    settings = probe_settings(schema)
    engine = create_engine(settings.database_url, schema)
    sessions = create_sessions(engine)
    broker = create_broker(settings)

    async def on_delivery(event: ProbeEvent) -> None:
        with calls.open("a") as f:
            f.write(f"{event.event_id}\n")

    async def after_commit(event: ProbeEvent) -> None:
        if crash_flag.exists():
            crash_flag.unlink()
            os._exit(CRASH_STATUS)

    add_probe_subscriber(
        broker, probe_event(event_name), group, lambda: sessions, after_commit, on_delivery
    )
    await broker.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    schema, name, group, flag, calls = sys.argv[1:6]
    asyncio.run(main(schema, name, group, Path(flag), Path(calls)))
