"""Delivery evidence and bounces over HTTP, against the real stack."""

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.services.notifier.conftest import Running
from tests.services.notifier.support import (
    SmtpServer,
    deliveries,
    outcomes,
    people,
    publish,
    registered,
    request,
)

pytestmark = pytest.mark.integration


def auth(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(DEVELOPMENT_JWT_SECRET, role=role)}"}


PLATFORM, SECURITY, AUDITOR = auth(Role.PLATFORM), auth(Role.SECURITY), auth(Role.AUDITOR)
RFC822 = {"Content-Type": "message/rfc822"}


def dsn(
    message_id: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    recipient: str = "ana@example.org",
    diagnostic: str = "smtp; 550 5.1.1 <ana@example.org>: Recipient address rejected",
) -> bytes:
    """A bounce as Postfix writes one (RFC 3464), for the notice sent as ``message_id``."""
    return (
        "From: MAILER-DAEMON@relay.example (Mail Delivery System)\r\n"
        "To: notices@privacy-events.local\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0"\r\n'
        "\r\n"
        "--B0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system at host relay.example. Your message could not be\r\n"
        "delivered to one or more recipients.\r\n"
        "--B0\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; relay.example\r\n"
        "Arrival-Date: Thu, 19 Nov 2026 10:05:00 +0000\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n"
        "\r\n"
        "--B0\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        "From: Privacy Notices <notices@privacy-events.local>\r\n"
        f"To: {recipient}\r\n"
        f"Message-ID: {message_id}\r\n"
        "Subject: BR-2026-0042: a security incident involving your data\r\n"
        "\r\n"
        "--B0--\r\n"
    ).encode()


async def one_delivered(notifier: Running, smtp: SmtpServer) -> tuple[str, str, str]:
    """Send one notice; its breach id, notice id and Message-ID."""
    [(user, address)] = people(1)
    breach = f"b-{uuid.uuid4().hex[:10]}"
    await publish(notifier.prefix, registered(user, address))
    await publish(notifier.prefix, request(user, breach))
    await outcomes(notifier.prefix, 1, settle=0)
    [mail] = smtp.to(address)
    return breach, f"breach:{breach}:{user}", str(mail["Message-ID"])


async def test_a_bounce_turns_a_delivered_notice_into_a_failed_one(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    breach, notice, message_id = await one_delivered(notifier, smtp)

    answer = await notifier.http.post(
        "/bounces", content=dsn(message_id), headers=PLATFORM | RFC822
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"diagnostic": None} == {
        "notice_id": notice,
        "message_id": message_id,
        "effect": "bounced",
        "action": "failed",
        "status": "5.1.1",
        "diagnostic": None,
    }
    [row] = (await deliveries(engine, breach)).values()
    assert row["state"] == "bounced" and row["bounce_status"] == "5.1.1"
    assert row["accepted_at"] is not None and row["bounced_at"] is not None

    found = await outcomes(notifier.prefix, 2)
    [failed] = [e for e in found if e["event_type"] == "notification.failed"]
    payload = failed["payload"]
    assert payload["notice_id"] == notice and payload["reason"] == "bounced"
    assert payload["smtp_code"] == 550 and payload["message_id"] == message_id
    assert "5.1.1" in payload["detail"] and "Recipient address rejected" in payload["detail"]

    again = await notifier.http.post("/bounces", content=dsn(message_id), headers=PLATFORM)
    assert again.status_code == 200 and again.json()["effect"] == "already"
    await asyncio.sleep(1.5)
    assert len(await outcomes(notifier.prefix, 2)) == 2  # no second failure event


async def test_a_dsn_that_reports_no_failure_changes_nothing(
    notifier: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    breach, _, message_id = await one_delivered(notifier, smtp)
    delayed = dsn(message_id, action="delayed", status="4.4.1", diagnostic="smtp; 421 busy")
    answer = await notifier.http.post("/bounces", content=delayed, headers=PLATFORM)
    assert answer.status_code == 200 and answer.json()["effect"] == "noted"
    [row] = (await deliveries(engine, breach)).values()
    assert row["state"] == "accepted"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b"", "body", "empty"),
        (b"From: a@b\r\nSubject: hi\r\n\r\nnot a report\r\n", "body.Content-Type", "text/plain"),
        (
            dsn("<x@y>").replace(b"message/delivery-status", b"text/plain"),
            "body.delivery-status",
            "no message/delivery-status part",
        ),
        (dsn("<x@y>", status="bounced"), "body.delivery-status.Status", "RFC 3463"),
        (dsn("<x@y>", action="exploded"), "body.delivery-status.Action", "exploded"),
        (
            dsn("<x@y>").replace(b"Message-ID: <x@y>\r\n", b""),
            "body.original-message",
            "Message-ID",
        ),
    ],
    ids=["empty", "not-a-report", "no-status", "bad-status", "bad-action", "no-message-id"],
)
async def test_a_malformed_dsn_is_a_422_naming_the_problem(
    notifier: Running, raw: bytes, field: str, words: str
) -> None:
    answer = await notifier.http.post("/bounces", content=raw, headers=PLATFORM | RFC822)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["error"] == "MalformedBounce" and detail["field"] == field
    assert words in detail["message"]


async def test_a_bounce_for_no_notice_we_sent_is_a_404(notifier: Running) -> None:
    answer = await notifier.http.post("/bounces", content=dsn("<nope@elsewhere>"), headers=PLATFORM)
    assert answer.status_code == 404 and answer.json()["detail"]["field"] == "Message-ID"


@pytest.mark.parametrize("notifier_settings", [{"max_bounce_bytes": 2048}], indirect=True)
async def test_a_bounce_larger_than_allowed_is_a_413(notifier: Running) -> None:
    big = dsn("<x@y>") + b"x" * 4096
    answer = await notifier.http.post("/bounces", content=big, headers=PLATFORM)
    assert answer.status_code == 413 and answer.json()["detail"]["field"] == "body"


async def test_the_deliveries_of_a_breach_come_in_pages_with_their_counts(
    notifier: Running, smtp: SmtpServer
) -> None:
    folks = people(5)
    breach = f"b-{uuid.uuid4().hex[:10]}"
    await publish(notifier.prefix, *(registered(u, a) for u, a in folks))
    await publish(notifier.prefix, *(request(u, breach) for u, _ in folks))
    await outcomes(notifier.prefix, 5, settle=0)

    seen: list[str] = []
    after: str | None = None
    for _ in range(5):
        params: dict[str, str | int] = {"limit": 2} | ({"after": after} if after else {})
        page = await notifier.http.get(
            f"/breaches/{breach}/deliveries", params=params, headers=AUDITOR
        )
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [item["notice_id"] for item in body["items"]]
        for item in body["items"]:
            assert item["state"] == "accepted" and item["attempts"] == 1
            assert item["message_id"].startswith("<") and item["smtp_code"] == 250
            assert item["uncertain"] is False and item["accepted_at"]
        after = body["next_after"]
        if after is None:
            break
    assert seen == sorted(f"breach:{breach}:{u}" for u, _ in folks)

    summary = await notifier.http.get(f"/breaches/{breach}/deliveries/summary", headers=SECURITY)
    assert summary.status_code == 200
    assert summary.json()["counts"] == {"claimed": 0, "accepted": 5, "failed": 0, "bounced": 0}
    assert summary.json()["uncertain"] == 0


async def test_bad_page_parameters_are_a_422_naming_the_field(notifier: Running) -> None:
    answer = await notifier.http.get("/breaches/b-1/deliveries?limit=0", headers=AUDITOR)
    assert answer.status_code == 422 and answer.json()["detail"]["field"] == "query.limit"
    answer = await notifier.http.get("/breaches/b-1/deliveries?after=%0A", headers=AUDITOR)
    assert answer.status_code == 422 and answer.json()["detail"]["field"] == "query.after"


@pytest.mark.parametrize(
    ("method", "path", "allowed", "refused"),
    [
        ("GET", "/breaches/b-1/deliveries", [SECURITY, AUDITOR], [PLATFORM, auth(Role.ADMIN)]),
        ("GET", "/breaches/b-1/deliveries/summary", [SECURITY, AUDITOR], [PLATFORM]),
        ("POST", "/bounces", [PLATFORM], [SECURITY, AUDITOR, auth(Role.ADMIN)]),
    ],
)
async def test_each_endpoint_admits_only_its_roles(
    notifier: Running,
    method: str,
    path: str,
    allowed: list[dict[str, str]],
    refused: list[dict[str, str]],
) -> None:
    body = dsn("<nobody@nowhere>") if method == "POST" else None
    assert (await notifier.http.request(method, path, content=body)).status_code == 401
    for headers in refused:
        answer = await notifier.http.request(method, path, content=body, headers=headers)
        assert answer.status_code == 403
    for headers in allowed:
        answer = await notifier.http.request(method, path, content=body, headers=headers)
        assert answer.status_code in (200, 404)
