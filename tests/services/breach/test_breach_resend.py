"""Failed notices sent again when the security team asks, and the notifier's mail server
outages shown on the breach (issue 21)."""

import json
from datetime import timedelta
from typing import Any

import pytest

from shared import events
from tests.services.breach.conftest import (
    AUDITOR,
    SECURITY,
    T0,
    Service,
    outcome,
    user_ids,
)
from tests.support import wait_until

pytestmark = pytest.mark.integration

H = timedelta(hours=1)


async def until_counts(service: Service, breach_id: str, **expected: int) -> dict[str, Any]:
    async def match() -> bool:
        counts = (await service.breach(breach_id))["counts"]
        return all(counts[k] == v for k, v in expected.items())

    await wait_until(match, 30, f"counts {expected}")
    return await service.breach(breach_id)


async def requests_of(service: Service, breach_id: str) -> list[dict[str, Any]]:
    staged = await service.staged(events.BREACH_NOTIFICATION_REQUESTED)
    return [e for e in staged if e["payload"]["breach_id"] == breach_id]


async def test_a_resend_asks_again_for_every_temporary_failure_and_nobody_else(
    service: Service,
) -> None:
    told, gave_up, gave_up_too, refused, erased = people = user_ids("rs", 5)
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": people}]))["breach_id"]
    await service.resolved(breach_id)
    await service.publish(
        outcome(breach_id, told, at=T0 + H),
        outcome(breach_id, gave_up, at=T0 + H, failed=True, reason="retries_exhausted"),
        outcome(breach_id, gave_up_too, at=T0 + H, failed=True, reason="retries_exhausted"),
        outcome(breach_id, refused, at=T0 + H, failed=True, reason="rejected"),
        outcome(breach_id, erased, at=T0 + H, failed=True, reason="erased"),
    )
    before = await until_counts(service, breach_id, delivered=1, failed=4)
    assert before["announcement_required"] is True
    first = {e["payload"]["user_id"]: e for e in await requests_of(service, breach_id)}

    answer = await service.http.post(f"/breaches/{breach_id}/resend", headers=SECURITY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["requested"] == 2 and body["not_resent"] == []
    assert body["counts"]["failed"] == 2 and body["counts"]["requested"] == 2
    assert body["counts"]["pending"] == 4  # back from failed to pending

    again = [e for e in await requests_of(service, breach_id) if e["payload"]["resend"]]
    assert sorted(e["payload"]["user_id"] for e in again) == sorted([gave_up, gave_up_too])
    for e in again:
        p = e["payload"]
        assert p["resend"] == 1
        assert p["notice_id"] == first[p["user_id"]]["payload"]["notice_id"]  # same notice
        assert p["deadline_at"] == first[p["user_id"]]["payload"]["deadline_at"]
        assert e["event_id"] != first[p["user_id"]]["event_id"]

    # The notifier answers: one delivered now, one failed again; counts follow.
    await service.publish(
        outcome(breach_id, gave_up, at=T0 + 2 * H, attempts=7),
        outcome(breach_id, gave_up_too, at=T0 + 2 * H, failed=True, reason="retries_exhausted"),
    )
    after = await until_counts(service, breach_id, delivered=2, failed=3, requested=0)
    assert after["resent"] == 2
    person = (await service.people(breach_id))[gave_up]
    assert person["state"] == "delivered" and person["resends"] == 1

    # Asking again re-sends only the one still failed, as its second re-send.
    second = await service.http.post(f"/breaches/{breach_id}/resend", headers=SECURITY)
    assert second.json()["requested"] == 1
    latest = [e for e in await requests_of(service, breach_id) if e["payload"]["resend"] == 2]
    assert [e["payload"]["user_id"] for e in latest] == [gave_up_too]

    timeline = (await service.http.get(f"/breaches/{breach_id}/timeline", headers=AUDITOR)).json()
    resends = [e for e in timeline if e["action"] == "resend_requested"]
    assert [e["detail"]["people"] for e in resends] == [2, 1]
    assert all(e["actor"] == "sec-lead@platform" for e in resends)
    record = (await service.http.get(f"/breaches/{breach_id}/report", headers=AUDITOR)).json()
    assert record["communication_to_data_subjects"]["resent"] == 2
    assert [e["action"] for e in record["timeline"]].count("resend_requested") == 2
    page = await service.http.get(f"/breaches/{breach_id}/report.html", headers=AUDITOR)
    assert "Sent again" in page.text and "resend requested" in page.text


async def test_a_resend_of_named_people_takes_a_corrected_address_but_never_an_erased_one(
    service: Service,
) -> None:
    told, refused, erased, unknown_person = people = user_ids("rn", 4)
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": people[:3]}]))[
        "breach_id"
    ]
    await service.resolved(breach_id)
    await service.publish(
        outcome(breach_id, told, at=T0 + H),
        outcome(breach_id, refused, at=T0 + H, failed=True, reason="rejected"),
        outcome(breach_id, erased, at=T0 + H, failed=True, reason="erased"),
    )
    await until_counts(service, breach_id, delivered=1, failed=2)
    answer = await service.http.post(
        f"/breaches/{breach_id}/resend",
        json={"user_ids": [told, refused, erased, unknown_person]},
        headers=SECURITY,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["requested"] == 1
    assert answer.json()["not_resent"] == [told, erased, unknown_person]
    again = [e for e in await requests_of(service, breach_id) if e["payload"]["resend"]]
    assert [e["payload"]["user_id"] for e in again] == [refused]

    assert (
        await service.http.post(f"/breaches/{breach_id}/resend", headers=AUDITOR)
    ).status_code == 403
    invalid = await service.http.post(
        f"/breaches/{breach_id}/resend", json={"user_ids": []}, headers=SECURITY
    )
    assert invalid.status_code == 422


async def test_the_mail_servers_outage_shows_on_every_open_breach(service: Service) -> None:
    people = user_ids("ms", 2)
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": people}]))["breach_id"]
    server = f"smtp-{breach_id[:8]}.example:587"
    since = T0 + H
    await service.publish(
        events.SmtpUnavailable.create(
            producer="notifier",
            subject_id=server,
            payload=events.SmtpUnavailablePayload(
                server=server, since=since, reason="cannot connect: ConnectionRefusedError"
            ),
        )
    )

    async def shown() -> bool:
        down = (await service.breach(breach_id))["mail_servers_unreachable"]
        return any(m["server"] == server for m in down)

    await wait_until(shown, 30, "the outage on the breach")
    [down] = [
        m
        for m in (await service.breach(breach_id))["mail_servers_unreachable"]
        if m["server"] == server
    ]
    assert "ConnectionRefused" in down["reason"]
    await service.publish(
        events.SmtpRecovered.create(
            producer="notifier",
            subject_id=server,
            payload=events.SmtpRecoveredPayload(
                server=server,
                since=since,
                at=since + timedelta(minutes=2),
                down_seconds=120.0,
                reason="cannot connect: ConnectionRefusedError",
                probes=6,
            ),
        )
    )

    async def gone() -> bool:
        down = (await service.breach(breach_id))["mail_servers_unreachable"]
        return all(m["server"] != server for m in down)

    await wait_until(gone, 30, "the outage to end on the breach")
    timeline = (await service.http.get(f"/breaches/{breach_id}/timeline", headers=AUDITOR)).json()
    mine = [e for e in timeline if e["detail"].get("server") == server]
    assert [e["action"] for e in mine] == ["mail_server_unavailable", "mail_server_recovered"]
    assert mine[1]["detail"]["down_seconds"] == 120.0
    assert json.dumps(mine)  # the regulator's record carries them as they are
