"""The notifier against the real broker, database and a local SMTP server."""

import asyncio
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.config import TEMPLATES
from services.notifier.domain import message_id
from services.notifier.exceptions import TemplateBroken
from services.notifier.main import build_app
from tests.services.notifier.conftest import Running
from tests.services.notifier.support import (
    SmtpServer,
    deliveries,
    erased,
    outcomes,
    people,
    publish,
    registered,
    request,
    settings,
    settled,
)

pytestmark = pytest.mark.integration


def body(message: Message, subtype: str = "plain") -> str:
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError(f"no text/{subtype} part")


def breach() -> str:
    return f"b-{uuid.uuid4().hex[:10]}"


async def test_one_request_sends_one_email_with_everything_a_notice_must_say(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    [(user, address)] = people(1)
    b = breach()
    await publish(notifier.prefix, registered(user, address, name="Maria Santos"))
    await publish(notifier.prefix, request(user, b))

    [event] = await outcomes(notifier.prefix, 1)
    [mail] = smtp.to(address)
    text, html = body(mail), body(mail, "html")
    for required in (
        "Maria Santos",
        "A member list was readable from a public link.",  # what happened
        "2026-11-17 08:00 UTC",  # when it began
        "2026-11-19 10:00 UTC",  # when the platform became aware
        "full name",  # which data
        "email address",
        "Phishing email that uses your name.",  # likely consequences
        "The link was removed and access logs reviewed.",  # measures taken
        "Ignore email that asks for your password.",  # what they can do
        "dpo@platform.example",  # whom to contact
        "BR-2026-0042",  # a reference
    ):
        assert required in text, required
        assert required in html, required
    assert "BR-2026-0042" in str(mail["Subject"])
    notice = f"breach:{b}:{user}"
    expected = message_id(notice, notifier.settings.id_domain)
    assert mail["Message-ID"] == expected
    assert mail["Content-Language"] == "en"

    assert event["event_type"] == "notification.delivered"
    payload = event["payload"]
    assert payload["notice_id"] == notice and payload["message_id"] == expected
    assert payload["smtp_code"] == 250 and payload["queue_id"] == mail["X-Queue-Id"]
    assert payload["attempts"] == 1 and payload["uncertain"] is False
    [row] = (await deliveries(engine, b)).values()
    assert row["state"] == "accepted" and row["queue_id"] == mail["X-Queue-Id"]


async def test_the_notice_is_in_the_persons_language_or_english(
    notifier: Running, smtp: SmtpServer
) -> None:
    b = breach()
    cases = {"th": "th", "th-TH": "th", "id": "id", "fr": "en", "pt-BR": "en"}
    folks = people(len(cases))
    for (user, address), language in zip(folks, cases, strict=True):
        await publish(notifier.prefix, registered(user, address, language=language))
    await publish(notifier.prefix, *(request(user, b) for user, _ in folks))
    await outcomes(notifier.prefix, len(cases))

    for (_, address), (asked, used) in zip(folks, cases.items(), strict=True):
        [mail] = smtp.to(address)
        assert mail["Content-Language"] == used, asked
        text = body(mail)
        marker = {"th": "เกิดอะไรขึ้น", "id": "Apa yang terjadi", "en": "What happened"}[used]
        assert marker in text, asked
        assert "A member list was readable from a public link." in text


async def test_the_same_request_twice_sends_one_email(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    folks = people(20)
    b = breach()
    await publish(notifier.prefix, *(registered(u, a) for u, a in folks))
    requests = [request(u, b) for u, _ in folks]
    again = [request(u, b) for u, _ in folks[:10]]  # new event ids, the same notice ids
    await publish(notifier.prefix, *requests, *requests[:10], *again)
    await settled(engine, b, 20)
    await publish(notifier.prefix, *requests[:5])  # and once more, after the outcomes
    found = await outcomes(notifier.prefix, 20, settle=3.0)

    assert len(found) == 20
    for _, address in folks:
        assert len(smtp.to(address)) == 1, address


async def test_unknown_and_erased_people_fail_with_the_reason_and_no_email(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    [(known, known_at), (gone, gone_at), (stranger, _)] = people(3)
    b = breach()
    await publish(notifier.prefix, registered(known, known_at), registered(gone, gone_at))
    await publish(notifier.prefix, erased(gone))
    await asyncio.sleep(1.0)  # the erasure is applied before the requests come
    await publish(notifier.prefix, *(request(u, b) for u in (known, gone, stranger)))

    found = {e["payload"]["user_id"]: e for e in await outcomes(notifier.prefix, 3)}
    assert found[known]["event_type"] == "notification.delivered"
    assert found[gone]["event_type"] == "notification.failed"
    assert found[gone]["payload"]["reason"] == "erased"
    assert found[stranger]["event_type"] == "notification.failed"
    assert found[stranger]["payload"]["reason"] == "no_contact"
    assert [m["X-Envelope-To"] for m in smtp.messages()] == [known_at]
    rows = await deliveries(engine, b)
    assert {r["user_id"]: r["reason"] for r in rows.values()} == {
        known: None,
        gone: "erased",
        stranger: "no_contact",
    }


async def test_a_person_registered_after_the_request_is_still_told(
    notifier: Running, smtp: SmtpServer
) -> None:
    # user.registered travels on another topic: it may be read after the request
    [(user, address)] = people(1)
    await publish(notifier.prefix, request(user, breach()))
    await asyncio.sleep(0.3)
    await publish(notifier.prefix, registered(user, address))
    [event] = await outcomes(notifier.prefix, 1)
    assert event["event_type"] == "notification.delivered"
    assert len(smtp.to(address)) == 1


async def test_4xx_answers_are_retried_and_5xx_fail_at_once_with_the_reply(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    [(slow, slow_at), (bad, bad_at), (late, late_at)] = people(3)
    smtp.rules(
        {"match": f"^{slow_at}$", "code": 451, "text": "4.7.1 greylisted, come back", "times": 2},
        {"match": f"^{bad_at}$", "code": 550, "text": "5.1.1 no such mailbox"},
        {"match": f"^{late_at}$", "code": 452, "text": "4.3.1 full", "times": 1, "at": "data"},
    )
    b = breach()
    await publish(
        notifier.prefix,
        *(registered(u, a) for u, a in ((slow, slow_at), (bad, bad_at), (late, late_at))),
    )
    await publish(notifier.prefix, *(request(u, b) for u in (slow, bad, late)))

    found = {e["payload"]["user_id"]: e["payload"] for e in await outcomes(notifier.prefix, 3)}
    assert found[slow]["attempts"] == 3 and found[slow]["smtp_code"] == 250
    assert found[late]["attempts"] == 2 and found[late]["smtp_code"] == 250
    assert found[bad]["reason"] == "rejected" and found[bad]["attempts"] == 1
    assert found[bad]["smtp_code"] == 550 and "no such mailbox" in found[bad]["smtp_reply"]
    assert len(smtp.to(slow_at)) == 1 and len(smtp.to(late_at)) == 1 and not smtp.to(bad_at)
    rows = {r["user_id"]: r for r in (await deliveries(engine, b)).values()}
    assert rows[bad]["state"] == "failed" and rows[bad]["smtp_code"] == 550


@pytest.mark.parametrize("notifier_settings", [{"retry_margin_hours": 0}], indirect=True)
async def test_temporary_failures_until_the_horizon_end_as_retries_exhausted(
    notifier: Running, smtp: SmtpServer
) -> None:
    [(user, address)] = people(1)
    smtp.rules({"match": f"^{address}$", "code": 452, "text": "4.2.2 mailbox full"})
    await publish(notifier.prefix, registered(user, address))
    deadline = datetime.now(UTC) + timedelta(seconds=3)  # the horizon, with no margin
    await publish(notifier.prefix, request(user, breach(), deadline_at=deadline))
    [event] = await outcomes(notifier.prefix, 1)
    assert event["payload"]["reason"] == "retries_exhausted"
    assert event["payload"]["attempts"] > 3  # retried all along, with backoff
    assert event["payload"]["smtp_code"] == 452
    assert datetime.fromisoformat(event["payload"]["at"]) >= deadline - timedelta(seconds=0.6)
    assert not smtp.to(address)


async def test_a_server_down_for_a_while_gets_everything_once_when_it_is_back(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    folks = people(60)
    b = breach()
    await publish(notifier.prefix, *(registered(u, a) for u, a in folks))
    await publish(notifier.prefix, *(request(u, b) for u, _ in folks[:10]))
    await settled(engine, b, 10)
    await smtp.stop()
    await publish(notifier.prefix, *(request(u, b) for u, _ in folks[10:]))
    await asyncio.sleep(2.0)  # the server is refused meanwhile: it waits, probed
    rows = await deliveries(engine, b)
    assert sum(r["state"] == "claimed" for r in rows.values()) == 50
    await smtp.start()

    await settled(engine, b, 60)
    rows = await deliveries(engine, b)
    assert {r["state"] for r in rows.values()} == {"accepted"}
    assert {r["attempts"] for r in rows.values()} == {1}  # waiting spent no attempt
    for _, address in folks:
        assert len(smtp.to(address)) == 1, address


@pytest.mark.parametrize(
    "notifier_settings", [{"smtp_sessions": 4, "smtp_rate_per_second": 20}], indirect=True
)
async def test_the_rate_to_the_server_is_bounded(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    folks = people(40)
    b = breach()
    await publish(notifier.prefix, *(registered(u, a) for u, a in folks))
    await asyncio.sleep(0.5)
    await publish(notifier.prefix, *(request(u, b) for u, _ in folks))
    await settled(engine, b, 40)
    accepted = sorted(r["accepted_at"] for r in (await deliveries(engine, b)).values())
    # 40 messages at 20 a second, evenly spaced: the last is accepted 39/20 s after the first
    assert (accepted[-1] - accepted[0]).total_seconds() >= 1.8


@pytest.mark.parametrize("notifier_settings", [{"smtp_sessions": 3}], indirect=True)
async def test_the_server_never_sees_more_sessions_than_configured(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    folks = people(400)
    b = breach()
    await publish(notifier.prefix, *(registered(u, a) for u, a in folks))
    await asyncio.sleep(0.5)
    await publish(notifier.prefix, *(request(u, b) for u, _ in folks))
    await settled(engine, b, 400)
    assert len(smtp.messages()) == 400
    stats = smtp.stats()
    assert stats["peak_sessions"] == 3  # used them all, never more
    assert stats["connections"] <= 3 * 2  # sessions are reused, not one per message


async def test_a_broken_template_stops_the_service_from_starting(
    schema: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    broken = tmp_path / "templates"
    shutil.copytree(TEMPLATES, broken)
    (broken / "breach_notice" / "id" / "body.html").write_text("{{ reference.nope() }}\n")
    app = build_app(settings(schema, smtp, templates_dir=broken))
    with pytest.raises(TemplateBroken, match=r"breach_notice/id"):
        async with app.router.lifespan_context(app):
            pass
