"""The notifier killed for real (SIGKILL) in mid-stream, and started again."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.domain import message_id
from shared.auth import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.services.notifier.support import (
    SmtpServer,
    deliveries,
    free_port,
    people,
    publish,
    registered,
    request,
    settled,
)
from tests.support import ROOT, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.fault]


def spawn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.notifier.main"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_killed_mid_stream_everyone_gets_one_email_but_the_uncertain_few(
    schema: str, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    total = 1000
    folks = people(total)
    breach = f"b-{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NOTIFIER_DB_SCHEMA": schema,
        "NOTIFIER_TOPIC_PREFIX": prefix,
        "NOTIFIER_HTTP_PORT": str(port),
        "NOTIFIER_SMTP_PORT": str(smtp.port),
        "NOTIFIER_SMTP_RATE_PER_SECOND": "300",  # so the kill finds the stream flowing
        "NOTIFIER_BATCH_SIZE": "100",
        "NOTIFIER_SMTP_BACKOFF_SECONDS": "0.05",
        "LOG_LEVEL": "WARNING",
    }

    async def ready() -> bool:
        async with httpx.AsyncClient() as client:
            try:
                return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

    await publish(prefix, *(registered(u, a) for u, a in folks))
    first = spawn(env)
    try:
        await wait_until(ready, 60, "the notifier to start")
        await publish(prefix, *(request(u, breach) for u, _ in folks))

        async def some() -> bool:
            rows = await deliveries(engine, breach)
            return sum(r["state"] == "accepted" for r in rows.values()) >= 250

        await wait_until(some, 60, "part of the stream to be sent")
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 30)
    finally:
        if first.poll() is None:
            first.kill()
    rows = await deliveries(engine, breach)
    done_before = sum(r["state"] != "claimed" for r in rows.values())
    assert done_before < total, "the kill came after everything was sent; nothing was proven"
    started_unrecorded = {n for n, r in rows.items() if r["state"] == "claimed" and r["started_at"]}

    second = spawn(env)
    try:
        await settled(engine, breach, total, timeout=120)
        async with httpx.AsyncClient() as client:
            token = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.AUDITOR)
            summary = await client.get(
                f"http://127.0.0.1:{port}/breaches/{breach}/deliveries/summary",
                headers={"Authorization": f"Bearer {token}"},
            )
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 30)

    rows = await deliveries(engine, breach)
    assert {r["state"] for r in rows.values()} == {"accepted"}
    mails = smtp.messages()
    copies = Counter(str(m["X-Envelope-To"]) for m in mails)
    by_user = {a: u for u, a in folks}
    assert set(copies) == set(by_user), "someone got no email"
    twice = {address for address, n in copies.items() if n > 1}
    assert max(copies.values()) <= 2
    uncertain = {r["notice_id"] for r in rows.values() if r["uncertain"]}
    # The only second copies are of notices in the window, and they are marked and counted.
    assert {f"breach:{breach}:{by_user[a]}" for a in twice} <= uncertain
    assert uncertain == started_unrecorded
    for mail in mails:
        notice = f"breach:{breach}:{by_user[str(mail['X-Envelope-To'])]}"
        assert mail["Message-ID"] == message_id(notice, "notices.privacy-events.local")
    assert summary.status_code == 200
    assert summary.json()["uncertain"] == len(uncertain)
    assert summary.json()["counts"]["accepted"] == total
    # Notices claimed but never handed to the server were sent again as plain notices.
    reclaimed = {r["notice_id"] for r in rows.values() if r["claims"] > 1}
    assert reclaimed >= uncertain
    print(  # the figures, for the report (pytest -s)
        f"\nbefore the kill {done_before} settled; claimed again {len(reclaimed)}, "
        f"uncertain {len(uncertain)}, second copies {len(twice)}"
    )


async def test_killed_during_a_mail_server_outage_loses_nothing(
    schema: str, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    total = 300
    folks = people(total)
    breach = f"b-{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NOTIFIER_DB_SCHEMA": schema,
        "NOTIFIER_TOPIC_PREFIX": prefix,
        "NOTIFIER_HTTP_PORT": str(port),
        "NOTIFIER_SMTP_PORT": str(smtp.port),
        "NOTIFIER_SMTP_RATE_PER_SECOND": "100",
        "NOTIFIER_BATCH_SIZE": "100",
        "NOTIFIER_SMTP_BACKOFF_SECONDS": "0.05",
        "NOTIFIER_SMTP_PROBE_SECONDS": "0.2",
        "NOTIFIER_SMTP_PROBE_MAX_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }

    async def readiness() -> tuple[int, dict[str, str]]:
        async with httpx.AsyncClient() as client:
            try:
                answer = await client.get(f"http://127.0.0.1:{port}/readyz")
            except httpx.TransportError:
                return 0, {}
            return answer.status_code, answer.json().get("checks", {})

    async def ready() -> bool:
        return (await readiness())[0] == 200

    async def unreachable() -> bool:
        return "unreachable since" in (await readiness())[1].get("smtp", "")

    await publish(prefix, *(registered(u, a) for u, a in folks))
    first = spawn(env)
    try:
        await wait_until(ready, 60, "the notifier to start")
        await publish(prefix, *(request(u, breach) for u, _ in folks))

        async def some() -> bool:
            rows = await deliveries(engine, breach)
            return sum(r["state"] == "accepted" for r in rows.values()) >= 60

        await wait_until(some, 60, "part of the stream to be sent")
        await smtp.stop(signal.SIGTERM)
        await wait_until(unreachable, 30, "/readyz to say the mail server is unreachable")
        await asyncio.sleep(1.0)
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 30)
    finally:
        if first.poll() is None:
            first.kill()
    rows = await deliveries(engine, breach)
    assert not [r for r in rows.values() if r["state"] == "failed"]
    waited = {n for n, r in rows.items() if r["state"] == "claimed"}
    assert waited, "the kill came after everything was sent; nothing was proven"
    handed = {n for n in waited if rows[n]["started_at"]}

    await smtp.start()
    second = spawn(env)
    try:
        await settled(engine, breach, total, timeout=120)
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 30)
    rows = await deliveries(engine, breach)
    assert {r["state"] for r in rows.values()} == {"accepted"}
    copies = Counter(str(m["X-Envelope-To"]) for m in smtp.messages())
    assert set(copies) == {a for _, a in folks}, "someone got no email"
    by_user = {a: u for u, a in folks}
    twice = {f"breach:{breach}:{by_user[a]}" for a, n in copies.items() if n > 1}
    uncertain = {n for n, r in rows.items() if r["uncertain"]}
    # Only a notice lost mid-message when the server stopped may have reached it twice:
    # it is marked uncertain; those that waited at the gate were never handed over.
    assert twice <= uncertain == handed
    assert len(uncertain) <= 4
    print(
        f"\n{len(waited)} waited through the outage and the kill; {len(handed)} had been "
        f"lost mid-message (uncertain); second copies {len(twice)}"
    )
