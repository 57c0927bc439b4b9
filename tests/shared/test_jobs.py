"""Periodic jobs under replicas: a round runs on one replica at a time."""

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.app import run_exclusive

pytestmark = pytest.mark.integration


async def test_a_round_is_skipped_while_another_replica_runs_the_same_job(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    running = 0
    most = 0
    rounds = 0

    async def job() -> None:
        nonlocal running, most, rounds
        running += 1
        rounds += 1
        most = max(most, running)
        await asyncio.sleep(0.2)  # long enough for the other replica to try meanwhile
        running -= 1

    # Two replicas, ten ticks each, all at once: they contend for every round.
    lock = f"{schema}.svc.sweep"
    ran = await asyncio.gather(*(run_exclusive(engine, lock, job) for _ in range(20)))
    assert most == 1, "two replicas ran the job at once"
    assert ran.count(True) == rounds >= 1
    assert ran.count(False) >= 1, "every round ran: nothing kept the replicas apart"
    # Once it is free again, a round runs; another schema's job never waits for this one.
    assert await run_exclusive(engine, lock, job)
    assert await run_exclusive(engine, f"{schema}.svc.other", job)


async def test_a_failing_round_releases_the_job_for_the_next(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema

    async def failing() -> None:
        raise RuntimeError("the job failed")

    async def fine() -> None:
        return None

    with pytest.raises(RuntimeError):
        await run_exclusive(engine, f"{schema}.svc.sweep", failing)
    assert await run_exclusive(engine, f"{schema}.svc.sweep", fine)
