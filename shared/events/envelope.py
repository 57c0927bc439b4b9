"""The one envelope every event travels in."""

from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


class Payload(BaseModel):
    """Base for event payloads: frozen; unknown fields ignored, so additive changes are safe."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(BaseModel):
    """Fields common to every event; subclasses fix ``event_type`` and the payload type.

    Consumers read envelopes leniently (``extra="ignore"``) so an additive change by a
    producer never breaks them; a breaking change gets a new ``VERSION`` and topic.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    # No defaults for event_id and occurred_at: a producer that leaves them out must be
    # refused, not given a fresh id on every redelivery (stored once per delivery) or
    # the time a consumer happened to read it. create() fills them for our producers.
    event_id: UUID = Field(description="Unique id; consumers dedupe on it.")
    event_type: str = Field(description="Dotted name, past tense.", examples=["user.registered"])
    schema_version: int = Field(description="Bumped only by breaking changes.", examples=[1])
    occurred_at: AwareDatetime = Field(description="When it happened, in UTC.")
    producer: str = Field(description="The service or platform component that emitted it.")
    subject_id: str = Field(
        description="The data subject (user id) the event is about; also the partition key."
    )
    payload: Payload

    @classmethod
    def topic(cls) -> str:
        """The Kafka topic this event type is published on."""
        return f"{cls.EVENT_TYPE}.v{cls.VERSION}"

    @classmethod
    def create(
        cls,
        *,
        producer: str,
        subject_id: str,
        payload: Any,
        event_id: UUID | None = None,
        occurred_at: datetime | None = None,
        **extra: Any,
    ) -> Self:
        """Build an event with its type and version, a fresh id and the current time filled in."""
        return cls(
            event_id=event_id or uuid4(),
            event_type=cls.EVENT_TYPE,
            schema_version=cls.VERSION,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            subject_id=subject_id,
            payload=payload,
            **extra,
        )

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _type_matches_class(self) -> Self:
        cls = type(self)
        if cls.EVENT_TYPE and self.event_type != cls.EVENT_TYPE:
            raise ValueError(f"event_type: expected {cls.EVENT_TYPE!r}, got {self.event_type!r}")
        if cls.EVENT_TYPE and self.schema_version != cls.VERSION:
            raise ValueError(
                f"schema_version: {cls.__name__} reads version {cls.VERSION}, "
                f"got {self.schema_version}"
            )
        return self

    def key(self) -> bytes:
        """The partition key: the subject id, so one subject's events stay in order."""
        return self.subject_id.encode()

    def to_bytes(self) -> bytes:
        """The serialized form written to Kafka."""
        return self.model_dump_json().encode()
