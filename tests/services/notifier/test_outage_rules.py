"""The outage rules without I/O: what a failed attempt means, the horizon, the backoff,
the rate a "slow down" leaves, and the gate with a probe the test controls."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

from services.notifier.domain import Failure, backoff, failure_of, horizon
from services.notifier.mailserver import MailServer, Outage
from services.notifier.sender import RateLimit


def test_a_reply_says_whether_it_is_the_message_a_rate_limit_or_final() -> None:
    assert failure_of(451, "4.7.1 greylisted, come back later") is Failure.TEMPORARY
    assert failure_of(452, "4.2.2 mailbox full") is Failure.TEMPORARY
    assert failure_of(421, "4.4.2 closing") is Failure.TEMPORARY
    assert failure_of(421, "4.7.0 Too many messages, slow down") is Failure.SLOW_DOWN
    assert failure_of(450, "4.7.1 rate limit exceeded") is Failure.SLOW_DOWN
    assert failure_of(451, "Throttling: try later") is Failure.SLOW_DOWN
    assert failure_of(452, "too many recipients") is Failure.TEMPORARY  # 452 is storage
    assert failure_of(550, "5.1.1 slow down") is Failure.PERMANENT


def test_the_horizon_is_the_deadline_less_the_margin() -> None:
    deadline = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    assert horizon(deadline, 6) == datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
    assert horizon(None, 6) is None


def test_the_backoff_doubles_with_full_jitter_up_to_the_longest() -> None:
    rng = random.Random(7)
    waits = [backoff(n, 1.0, 3600.0, rng) for n in range(1, 20)]
    assert all(0 <= w <= min(3600.0, 2 ** (n - 1)) for n, w in enumerate(waits, start=1))
    assert max(backoff(40, 1.0, 3600.0, rng) for _ in range(200)) > 3000  # it reaches an hour
    assert backoff(10_000, 1.0, 3600.0) <= 3600.0  # no overflow


def test_a_slow_down_halves_the_rate_down_to_the_floor_and_it_recovers() -> None:
    now = [0.0]
    limit = RateLimit(100.0, clock=lambda: now[0], floor=10.0, recover=30.0)
    limit.slow_down()
    assert limit.rate == 50.0
    for _ in range(5):
        limit.slow_down()
    assert limit.rate == 10.0 and limit.lowered == 6
    now[0] += 31
    limit._recover()
    assert limit.rate == 20.0
    for _ in range(3):
        now[0] += 31
        limit._recover()
    assert limit.rate == 100.0  # back to the configured rate, and no further

    unlimited = RateLimit(0.0, clock=lambda: now[0])
    unlimited.slow_down()
    assert unlimited.rate == 32.0 and unlimited.interval == 1 / 32
    now[0] += 31
    unlimited._recover()
    assert unlimited.rate == 0.0 and unlimited.interval == 0.0


async def test_the_gate_holds_everyone_until_a_probe_answers_and_tells_both_ends() -> None:
    answers = [False, False, True]
    told: list[Outage] = []
    now = [datetime(2026, 12, 7, 9, 0, tzinfo=UTC)]

    async def probe() -> None:
        if not answers.pop(0):
            raise OSError("connection refused")

    async def tell(outage: Outage) -> None:
        told.append(outage)

    gate = MailServer(
        server="smtp.example:25",
        probe=probe,
        clock=lambda: now[0],
        first=0.01,
        longest=0.02,
        poll=0.01,
        on_change=tell,
    )
    assert gate.available and gate.problem() is None
    gate.down("cannot connect: refused")
    gate.down("again")  # one outage, not two
    assert not gate.available
    assert (gate.problem() or "").startswith("unreachable since 2026-12-07T09:00:00+00:00")
    horizon_passed = await gate.wait(until=now[0])
    assert horizon_passed is False  # a notice past its horizon does not wait
    assert await asyncio.wait_for(gate.wait(until=now[0] + timedelta(hours=1)), 5)
    await asyncio.sleep(0.05)
    assert gate.available and gate.outages == 1 and gate.probes == 3
    assert [o.at is None for o in told] == [True, False]
    assert told[1].reason == "connection refused" and told[1].probes == 3
    await gate.close()
