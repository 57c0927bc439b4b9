"""Every replica applies every change: the follower that keeps a projection current.

Each replica reads the consent, directory and grant events (and the users' restrictions
and erasures) in a consumer group of its own, ``<schema>.replica.<replica id>``, so no
replica shares a partition with another, and applies each to its projection; the replica
that made a change applied it before answering, and applying it again changes nothing:

- a consent change is applied only if its version is newer than the one held (a
  withdrawal that overtakes its grant, on the other topic, is held as withdrawn);
- an organisation's change only if its ``occurred_at`` (the row's ``updated_at``,
  stamped by the database under the row's lock) is later than the last applied; a
  retirement stays;
- a grant's revocation, once applied, is never undone by a late ``access_grant.created``.

Start-up closes the gap between loading the database and subscribing by taking the
positions *first* (:meth:`Follower.mark`), then loading, then reading from those
positions. The outbox publishes an event only after its transaction committed, so an
event before a marked position was committed before the load began and the load holds
it; one after is read. Some are both, and applying twice changes nothing. The users'
events are not the consent service's own: for them the position is the offset that the
service's consumer group (which writes them to the database) has committed, since
everything before it is in the database.
"""

import asyncio
import contextlib
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from services.consent.domain import AccessGrant, Action, ConsentChange, Organisation, Restriction
from services.consent.projection import Projection
from services.consent.repository import ORIGIN_HEADER
from shared import events
from shared.kafka import consumer_options
from shared.logging import get_logger

log = get_logger(__name__)

OWN_TOPICS = (
    events.CONSENT_GRANTED,
    events.CONSENT_WITHDRAWN,
    events.ORGANISATION_REGISTERED,
    events.ORGANISATION_UPDATED,
    events.ORGANISATION_RETIRED,
    events.ACCESS_GRANT_CREATED,
    events.ACCESS_GRANT_REVOKED,
)
"""The consent service's own events: applied only when they come from this deployment."""
USER_TOPICS = (events.USER_REGISTERED, events.USER_RESTRICTION_CHANGED, events.USER_ERASED)
"""The registry's events whose effect on decisions every replica must hold."""


def _consent(
    event: events.ConsentGranted | events.ConsentWithdrawn, action: Action
) -> ConsentChange:
    p = event.payload
    return ConsentChange(
        change_id=str(event.event_id),
        consent_id=p.consent_id,
        version=p.version,
        user_id=p.user_id,
        purpose=p.purpose,
        action=action,
        at=p.valid_from,
        organisation=p.organisation_id,
        country=p.country,
        data_categories=frozenset(p.data_categories),
        notice_version=p.notice_version,
        valid_until=p.valid_until,
        reason=p.reason,
    )


def _organisation(payload: events.OrganisationPayload) -> Organisation:
    return Organisation(
        slug=payload.organisation,
        name=payload.name,
        country=payload.country,
        kind=payload.kind,
        standing_access=payload.standing_access,
        retired_at=payload.retired_at,
        privacy_contact=payload.privacy_contact,
    )


def _grant(payload: events.AccessGrantPayload) -> AccessGrant:
    return AccessGrant(
        grant_id=payload.grant_id,
        organisation=payload.organisation,
        data_categories=frozenset(payload.data_categories),
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
        revoked_at=payload.revoked_at,
    )


def apply_event(projection: Projection, topic: str, value: bytes) -> None:
    """Apply one event to ``projection``; applying it again changes nothing."""
    if topic in (events.CONSENT_GRANTED, events.CONSENT_WITHDRAWN):
        granted = topic == events.CONSENT_GRANTED
        cls = events.ConsentGranted if granted else events.ConsentWithdrawn
        action = Action.GRANTED if granted else Action.WITHDRAWN
        projection.apply_change(_consent(cls.model_validate_json(value), action))
    elif topic in (
        events.ORGANISATION_REGISTERED,
        events.ORGANISATION_UPDATED,
        events.ORGANISATION_RETIRED,
    ):
        org = events.EVENT_BY_TOPIC[topic].model_validate_json(value)
        assert isinstance(org.payload, events.OrganisationPayload)
        projection.put_organisation(_organisation(org.payload), stamp=org.occurred_at)
    elif topic in (events.ACCESS_GRANT_CREATED, events.ACCESS_GRANT_REVOKED):
        grant = events.EVENT_BY_TOPIC[topic].model_validate_json(value)
        assert isinstance(grant.payload, events.AccessGrantPayload)
        projection.put_grant(_grant(grant.payload))
    elif topic == events.USER_REGISTERED:
        registered = events.UserRegistered.model_validate_json(value).payload
        projection.register_subject(registered.user_id, registered.country)
    elif topic == events.USER_RESTRICTION_CHANGED:
        changed = events.UserRestrictionChanged.model_validate_json(value).payload
        projection.restrict_subject(
            changed.user_id, Restriction(changed.restricted, changed.objected)
        )
    elif topic == events.USER_ERASED:
        projection.forget_subject(events.UserErased.model_validate_json(value).payload.user_id)


RESTART_AFTER_SECONDS = 15.0
"""Failing this long in a row, a replica's consumer is replaced by a new one: aiokafka
reconnects by itself after a broker's loss, but not always (see _restart_consumer)."""


class _SeekOnAssign(ConsumerRebalanceListener):
    def __init__(self, follower: "Follower") -> None:
        self._follower = follower

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to hand over: the group has one member."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Start each partition at its marked position (a new partition at its start)."""
        consumer = self._follower.consumer
        for tp in assigned:
            start = self._follower.positions.get(tp)
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
        self._follower.assigned.set()


class Follower:
    """Reads every change in this replica's own consumer group and applies it."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        service_group: str,
        fetch_wait_ms: int = 100,
        topic_prefix: str = "",
    ) -> None:
        self.group_id = group_id
        self._prefix = topic_prefix
        self._own = tuple(f"{topic_prefix}{topic}" for topic in OWN_TOPICS)
        self._users = tuple(f"{topic_prefix}{topic}" for topic in USER_TOPICS)
        self._bootstrap = bootstrap_servers
        self._service_group = service_group
        self._fetch_wait_ms = fetch_wait_ms
        self.consumer = self._new_consumer()
        self.positions: dict[TopicPartition, int] = {}
        self.assigned = asyncio.Event()
        self.applied = 0
        self.projection: Projection | None = None
        self._task: asyncio.Task[None] | None = None
        self.on_applied: Callable[[str, bytes], None] | None = None
        """A seam for tests: called after each event is applied."""

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            client_id=self.group_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._fetch_wait_ms,
        )

    async def _restart_consumer(self) -> None:
        """A consumer of its own again, from where this replica's reading stands.

        A broker killed under load left aiokafka's group coordination on a closed
        connection, failing every call from then on ("the handler is closed"): the
        replica stayed ready and never applied another change (the fault suite found it).
        """
        old, self.consumer = self.consumer, self._new_consumer()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.stop(), 10)
        await self.consumer.start()
        self.consumer.subscribe([*self._own, *self._users], listener=_SeekOnAssign(self))
        log.warning("replication.consumer_restarted", positions=len(self.positions))

    async def mark(self) -> None:
        """Take the positions to read from; call before loading the projection."""
        await self.consumer.start()
        own = await self._partitions(self._own)
        self.positions = dict(await self.consumer.end_offsets(own))
        for topic in self._users:
            self.positions.update(await self._committed_by_service(topic))

    async def _partitions(self, topics: tuple[str, ...]) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(list(topics))
        finally:
            await admin.close()
        return [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            for partition in topic["partitions"]
        ]

    async def _committed_by_service(self, topic: str) -> dict[TopicPartition, int]:
        """Where the service's own consumer group of ``topic`` stands: what it has not
        committed may not be in the database yet."""
        group = consumer_options(self._service_group, topic)["group_id"]
        probe = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=group,
            enable_auto_commit=False,
        )
        await probe.start()
        try:
            positions: dict[TopicPartition, int] = {}
            for tp in await self._partitions((topic,)):
                committed = await probe.committed(tp)
                if committed is not None:
                    positions[tp] = committed
            return positions
        finally:
            await probe.stop()

    async def start(self, projection: Projection) -> None:
        """Follow from the marked positions, applying to ``projection``."""
        self.projection = projection
        self.consumer.subscribe([*self._own, *self._users], listener=_SeekOnAssign(self))
        self._task = asyncio.create_task(self._run(), name=f"consent-follower.{self.group_id}")

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    def readiness(self) -> str | None:
        """What keeps this replica from answering with every change, or None."""
        if self._task is not None and self._task.done():
            return "stopped"
        return None if self.assigned.is_set() else "waiting for its partitions"

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failing_since: float | None = None
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batches.values():
                    for record in records:
                        self._apply(record)
                        # A new consumer (or a new assignment) goes on from here.
                        self.positions[TopicPartition(record.topic, record.partition)] = (
                            record.offset + 1
                        )
                if batches:
                    # Only for watching a replica's lag: a restart reloads the database
                    # and starts from fresh marks, not from these offsets.
                    await self.consumer.commit()
                failing_since = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker away: aiokafka reconnects; try again
                log.warning("replication.fetch_failed", error=repr(exc))
                failing_since = failing_since if failing_since is not None else loop.time()
                if loop.time() - failing_since >= RESTART_AFTER_SECONDS:
                    try:
                        await self._restart_consumer()
                        failing_since = None
                    except Exception as restart:
                        log.warning("replication.restart_failed", error=repr(restart))
                await asyncio.sleep(0.5)

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        assert self.projection is not None
        if record.topic in self._own:
            origin = dict(record.headers).get(ORIGIN_HEADER)
            if origin is None or origin.decode() != self.projection.origin:
                return  # another deployment's consent service on the same broker
        try:
            topic = record.topic.removeprefix(self._prefix)
            apply_event(self.projection, topic, record.value or b"")
        except (ValidationError, UnicodeDecodeError) as exc:
            # The service's own subscribers dead-letter what they cannot read; a replica
            # only skips it, so the one event does not stop every later change.
            log.error(
                "replication.unreadable_event",
                topic=record.topic,
                offset=record.offset,
                error=repr(exc),
            )
            return
        except Exception as exc:
            # Its position is already past it: logged loudly rather than lost silently.
            log.error(
                "replication.apply_failed",
                topic=record.topic,
                offset=record.offset,
                error=repr(exc),
            )
            return
        self.applied += 1
        if self.on_applied is not None:
            self.on_applied(record.topic, record.value or b"")
