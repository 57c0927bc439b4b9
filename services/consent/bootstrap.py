"""What the consent service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass, field

from services.consent import service
from services.consent.config import ConsentSettings
from services.consent.projection import Projection
from services.consent.replication import Follower
from shared.app import Infrastructure, Runtime
from shared.clock import Clock, SystemClock


@dataclass(kw_only=True)
class ConsentRuntime(Runtime):
    """The running consent service: the decision projection, the follower that keeps it
    current with the other replicas' changes, and the clock its writes stamp with."""

    projection: Projection
    follower: Follower | None = None
    clock: Clock = field(default_factory=SystemClock)

    async def start(self) -> None:
        """Follow the other replicas' changes from the positions marked before loading."""
        if self.follower is not None:
            await self.follower.start(self.projection)
            self.readiness["replication"] = self.follower.readiness

    async def stop(self) -> None:
        """Stop following, then the background jobs."""
        if self.follower is not None:
            await self.follower.stop()
        await super().stop()


async def bootstrap(
    infra: Infrastructure,
    *,
    projection: Projection | None = None,
    clock: Clock | None = None,
    follow: bool = True,
) -> ConsentRuntime:
    """Mark the follower's positions, then fold the projection from the database (unless
    given); ``follow=False`` runs a replica that sees only its own changes."""
    settings = infra.settings
    follower = None
    if follow and isinstance(settings, ConsentSettings):
        follower = Follower(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.replica_group,
            service_group=settings.schema_name,
            fetch_wait_ms=settings.replication_fetch_wait_ms,
            topic_prefix=settings.topic_prefix,
        )
        await follower.mark()  # before loading: see replication.py
    try:
        if projection is None:
            projection = await service.load_projection(infra.sessions, settings.schema_name)
        projection.origin = projection.origin or settings.schema_name
    except BaseException:
        if follower is not None:
            await follower.stop()
        raise
    return ConsentRuntime(
        **vars(infra), projection=projection, follower=follower, clock=clock or SystemClock()
    )
