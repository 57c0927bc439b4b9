"""Migrate services' schemas as the owner, then stop: ``python -m deploy.migrate [SERVICE...]``.

A deployment step for keeping the owner's URL out of the services: run this with
``MIGRATION_DATABASE_URL`` (and each service's ``<SERVICE>_DATABASE_URL``, whose role
gets its grants), then start the services with their own URL alone; a service finds its
schema migrated and migrates nothing. With no argument, every service.
"""

import asyncio
import importlib
import sys

from shared.db import create_engine, migrate_service
from shared.logging import configure_logging
from shared.settings import ServiceSettings

SERVICES = ("registry", "consent", "audit", "breach", "notifier", "detection")


async def migrate(service: str) -> None:
    """Migrate one service's schema and grant its role, as its settings say."""
    config = importlib.import_module(f"services.{service}.config")
    main = importlib.import_module(f"services.{service}.main")
    settings: ServiceSettings = getattr(config, f"{service.capitalize()}Settings")()
    engine = create_engine(settings.database_url, settings.schema_name, pool_size=1)
    try:
        await migrate_service(engine, main.MIGRATIONS, settings)
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    """Migrate the services named in ``argv`` (all when none); 2 for an unknown name."""
    configure_logging("migrate", "INFO")
    unknown = sorted(set(argv) - set(SERVICES))
    if unknown:
        print(
            f"unknown service {', '.join(unknown)}; one of {', '.join(SERVICES)}", file=sys.stderr
        )
        return 2
    for service in argv or SERVICES:
        asyncio.run(migrate(service))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
