"""What the consent service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass

from services.consent import service
from services.consent.projection import Projection
from shared.app import Infrastructure, Runtime


@dataclass(kw_only=True)
class ConsentRuntime(Runtime):
    """The running consent service: its infrastructure and the decision projection."""

    projection: Projection


async def bootstrap(
    infra: Infrastructure, *, projection: Projection | None = None
) -> ConsentRuntime:
    """Build the runtime; the projection is folded from the database unless given."""
    if projection is None:
        projection = await service.load_projection(infra.sessions)
    return ConsentRuntime(**vars(infra), projection=projection)
