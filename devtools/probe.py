"""Probe events: a contract of the tests' own, on topics of their own."""

from typing import ClassVar

from pydantic import Field

from shared.events import Envelope, Payload


class ProbePayload(Payload):
    n: int = Field(description="A sequence number chosen by the test.")
    note: str = ""


class ProbeEvent(Envelope):
    """An event used only by tests; subclass it with :func:`probe_event` for a fresh topic."""

    EVENT_TYPE: ClassVar[str] = "test.probe"
    payload: ProbePayload


def probe_event(name: str) -> type[ProbeEvent]:
    """A probe event class with a topic of its own (``test.<name>.v1``)."""
    return type(f"Probe_{name}", (ProbeEvent,), {"EVENT_TYPE": f"test.{name}"})


def make_probe(cls: type[ProbeEvent], n: int, subject: str | None = None) -> ProbeEvent:
    """A probe event numbered ``n``, about ``subject`` (by default one of seven users)."""
    return cls.create(
        producer="tests", subject_id=subject or f"user-{n % 7}", payload=ProbePayload(n=n)
    )
