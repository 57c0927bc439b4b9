"""Infrastructure that reaches nothing: an engine never connected, a broker never started."""

from shared.app import Infrastructure, create_broker
from shared.db import create_engine, create_sessions
from shared.settings import ServiceSettings

NOWHERE_DATABASE = "postgresql+asyncpg://nobody:nobody@127.0.0.1:9/nothing"
"""A database nothing listens on: a test that reaches it by mistake fails at once."""
NOWHERE_KAFKA = "127.0.0.1:9"


def infrastructure(settings: ServiceSettings) -> Infrastructure:
    """What ``create_app`` would give a service, built without connecting anything."""
    engine = create_engine(settings.database_url, settings.schema_name, pool_size=1)
    return Infrastructure(
        settings=settings,
        engine=engine,
        sessions=create_sessions(engine),
        broker=create_broker(settings),
    )
