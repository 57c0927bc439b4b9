"""Recipient notices (issue 15): an organisation's privacy contact is told, once per
notice_id, to erase, correct or stop processing one person's data. Against the real
broker, database and a local SMTP server; the organisation.* events are fed here."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import Message

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.config import NotifierSettings
from services.notifier.domain import message_id
from services.notifier.main import build_app
from shared.events import OrganisationUpdated, RecipientAction
from tests.services.notifier.conftest import Running
from tests.services.notifier.support import (
    FakeClock,
    SmtpServer,
    deliveries_of_kind,
    erased,
    organisation,
    outcomes,
    people,
    publish,
    recipient_request,
    registered,
    settings,
)
from tests.support import wait_until

pytestmark = pytest.mark.integration

KIND = "recipient_notice"


def body(message: Message, subtype: str = "plain") -> str:
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError(f"no text/{subtype} part")


def slug() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def running(schema: str, smtp: SmtpServer, clock: FakeClock) -> AsyncIterator[Running]:
    """The notifier on a test clock, looking waiting contacts up every 0.1 s."""
    configured: NotifierSettings = settings(
        schema,
        smtp,
        contact_poll_seconds=0.1,
        audit_api_url="https://audit.platform.example",
    )
    app = build_app(configured, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield Running(configured, client, app)


async def test_an_erasure_request_goes_to_the_privacy_contact_even_after_the_person_is_erased(
    running: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    [(user, address)] = people(1)
    org = slug()
    contact = f"privacy@{org}.example"
    await publish(running.prefix, registered(user, address, name="Maria Santos"))
    await publish(running.prefix, erased(user))  # the erasure is why the notice is sent
    await publish(running.prefix, organisation(org, contact))
    await asyncio.sleep(1.0)  # the erasure and the directory are applied first
    asked = recipient_request(user, org, categories=("full_name", "phone_number"))
    await publish(running.prefix, asked)

    [event] = await outcomes(running.prefix, 1)
    [mail] = smtp.to(contact)
    text, html = body(mail), body(mail, "html")
    request_id = asked.payload.request_id
    for required in (
        "Department of Trade and Industry",  # whom it addresses
        f"User id {user}",  # the person, by the id the organisation received
        "erase",
        "full name",  # the categories it received
        "phone number",
        "2026-11-18 08:30 UTC",  # when it last received them
        "2026-11-20 09:00 UTC",  # when the person exercised the right
        "2026-12-20 09:00 UTC",  # respond by
        f"https://audit.platform.example/recipient-requests/{request_id}/confirm",
        f"https://audit.platform.example/recipient-requests/{request_id}/keep",
        request_id,
    ):
        assert required in text, required
    assert f"User id <strong>{user}</strong>" in html
    assert f"https://audit.platform.example/recipient-requests/{request_id}/confirm" in html
    for personal in ("Maria Santos", address):  # the person's data never travel in it
        assert personal not in text and personal not in html
        assert personal not in str(mail)
    assert str(mail["Subject"]).startswith("Erasure request: user ")
    notice = f"recipient:{request_id}"
    assert mail["Message-ID"] == message_id(notice, running.settings.id_domain)

    assert event["event_type"] == "notification.delivered"
    payload = event["payload"]
    assert payload["notice_id"] == notice and payload["kind"] == KIND
    assert payload["organisation"] == org and payload["user_id"] == user
    assert payload["breach_id"] is None and payload["smtp_code"] == 250
    [row] = (await deliveries_of_kind(engine, KIND)).values()
    assert row["organisation"] == org and row["state"] == "accepted"


async def test_rectification_and_restriction_notices_say_their_own_thing(
    running: Running, smtp: SmtpServer
) -> None:
    org = slug()
    contact = f"dpo@{org}.example"
    await publish(running.prefix, organisation(org, contact))
    await asyncio.sleep(0.5)
    rectify = recipient_request("u-r", org, RecipientAction.RECTIFY, ("email_address",))
    restrict = recipient_request("u-s", org, RecipientAction.RESTRICT, ("location",))
    await publish(running.prefix, rectify, restrict)
    await outcomes(running.prefix, 2)

    mails = {str(m["Subject"]).split(":")[0]: m for m in smtp.to(contact)}
    assert set(mails) == {"Rectification notice", "Restriction request"}
    corrected = body(mails["Rectification notice"])
    assert "has had it corrected" in corrected and "The data corrected" in corrected
    assert "- email address" in corrected and "The new values are not in this message" in corrected
    stopped = body(mails["Restriction request"])
    assert "stop processing the data listed below" in stopped and "- location" in stopped
    assert "erase" not in stopped


async def test_the_same_recipient_notice_twice_sends_one_email(
    running: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    org = slug()
    contact = f"privacy@{org}.example"
    await publish(running.prefix, organisation(org, contact))
    await asyncio.sleep(0.5)
    first = recipient_request("u-1", org)
    again = recipient_request("u-1", org, request_id=first.payload.request_id)  # new event id
    await publish(running.prefix, first, first, again)

    async def settled() -> bool:
        rows = await deliveries_of_kind(engine, KIND)
        return any(r["state"] == "accepted" for r in rows.values())

    await wait_until(settled, 30, "the notice to be sent")
    await publish(running.prefix, first)  # and once more, after the outcome
    found = await outcomes(running.prefix, 1, settle=2.0)
    assert len(found) == 1
    assert len(smtp.to(contact)) == 1
    # and the batches' offsets were committed in order, the dispatcher still healthy
    ready = await running.http.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_a_notice_waits_for_a_contact_not_known_yet_then_is_sent(
    running: Running, smtp: SmtpServer, clock: FakeClock
) -> None:
    # organisation.* come from the consent service on other topics: they may be read
    # after the request. A known organisation without a contact waits too.
    org, late = slug(), slug()
    await publish(running.prefix, organisation(org, None))
    await publish(running.prefix, recipient_request("u-1", org), recipient_request("u-2", late))
    await asyncio.sleep(1.0)
    clock.advance(300)  # half the grace period
    assert smtp.messages() == []
    await publish(
        running.prefix,
        organisation(org, f"privacy@{org}.example", event=OrganisationUpdated),
        organisation(late, f"privacy@{late}.example"),
    )
    found = await outcomes(running.prefix, 2)
    assert {e["event_type"] for e in found} == {"notification.delivered"}
    assert len(smtp.to(f"privacy@{org}.example")) == 1
    assert len(smtp.to(f"privacy@{late}.example")) == 1


async def test_a_notice_whose_contact_never_comes_fails_as_no_contact_once_the_clock_says(
    running: Running, smtp: SmtpServer, clock: FakeClock, engine: AsyncEngine
) -> None:
    org = slug()
    await publish(running.prefix, recipient_request("u-1", org))

    async def waiting() -> bool:
        return len(await deliveries_of_kind(engine, KIND)) == 1

    await wait_until(waiting, 30, "the notice to be claimed")
    await asyncio.sleep(1.0)  # polled several times: still waiting, on a still clock
    [row] = (await deliveries_of_kind(engine, KIND)).values()
    assert row["state"] == "claimed"
    clock.advance(running.settings.organisation_contact_grace_seconds + 1)

    [event] = await outcomes(running.prefix, 1)
    assert event["event_type"] == "notification.failed"
    assert event["payload"]["reason"] == "no_contact"
    assert event["payload"]["organisation"] == org and event["payload"]["kind"] == KIND
    assert smtp.messages() == []


async def test_the_newest_directory_entry_wins_whatever_order_it_is_read_in(
    running: Running, smtp: SmtpServer
) -> None:
    org = slug()
    now = datetime.now(UTC)
    newer = organisation(org, f"new@{org}.example", event=OrganisationUpdated, at=now)
    older = organisation(org, f"old@{org}.example", at=now - timedelta(days=1))
    await publish(running.prefix, newer)
    await asyncio.sleep(0.5)
    await publish(running.prefix, older)  # on another topic, read late
    await asyncio.sleep(0.5)
    await publish(running.prefix, recipient_request("u-1", org))
    await outcomes(running.prefix, 1)
    assert [m["X-Envelope-To"] for m in smtp.messages()] == [f"new@{org}.example"]
