"""Periodic jobs count their rounds; a job failing round after round makes the service
not ready, naming the job; tests wait for rounds, and a job that never runs fails them."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from shared.app import LocalLocks, Runtime
from shared.operations import operations_router
from shared.settings import ServiceSettings
from tests.fast.fakes import NOWHERE_DATABASE, NOWHERE_KAFKA, infrastructure

TICK = 0.005


def settings() -> ServiceSettings:
    return ServiceSettings(
        db_schema="fast_jobs",
        database_url=NOWHERE_DATABASE,
        kafka_bootstrap_servers=NOWHERE_KAFKA,
        job_failing_rounds=3,
    )


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    runtime = Runtime(**vars(infrastructure(settings())), job_locks=LocalLocks())
    yield runtime
    await runtime.stop()
    await runtime.engine.dispose()


class Flaky:
    """A job that fails while ``failing`` is set, and counts its calls."""

    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.failing:
            raise RuntimeError("the database went away")


async def test_waiting_for_rounds_returns_once_that_many_ran_after_the_call(
    runtime: Runtime,
) -> None:
    job = Flaky()
    record = runtime.every(TICK, "sweep", job)
    await record.wait_rounds(3, within=5)
    before = job.calls
    await runtime.jobs["sweep"].wait_rounds(2, within=5)
    assert job.calls >= before + 2
    assert record.rounds == job.calls or record.rounds == job.calls - 1  # one may be running
    assert record.failures == 0 and record.last_error is None


async def test_waiting_for_rounds_fails_when_the_job_never_runs_to_the_end(
    runtime: Runtime,
) -> None:
    record = runtime.every(TICK, "sweep", Flaky(failing=True))
    with pytest.raises(TimeoutError, match=r"service\.sweep: 0 of 1 rounds .*database went away"):
        await record.wait_rounds(1, within=0.3)
    assert record.rounds == 0 and record.failures >= 3


async def test_a_job_failing_round_after_round_makes_the_service_not_ready_until_it_recovers(
    runtime: Runtime,
) -> None:
    job = Flaky(failing=True)
    record = runtime.every(3600, "sweep", job)  # rounds driven by the test, one by one
    check = runtime.readiness["job:sweep"]
    locks = LocalLocks()
    for _ in range(2):
        await record.run(locks, "sweep", job)
    assert check() is None, "two failures are under the threshold of three"
    await record.run(locks, "sweep", job)
    assert check() == "failing: RuntimeError('the database went away') (3 rounds in a row)"

    job.failing = False
    await record.run(locks, "sweep", job)
    assert check() is None and record.failures == 0 and record.rounds == 1


async def test_readyz_answers_503_naming_the_failing_job(runtime: Runtime) -> None:
    job = Flaky(failing=True)
    record = runtime.every(3600, "clock", job)
    for _ in range(3):
        await record.run(LocalLocks(), "clock", job)
    app = FastAPI()
    app.include_router(operations_router(runtime.settings, runtime.broker, "fast"))
    app.state.runtime = runtime
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["job:clock"].startswith("failing: RuntimeError('the database went away')")


async def test_a_round_is_skipped_while_this_process_holds_the_jobs_lock(
    runtime: Runtime,
) -> None:
    locks = LocalLocks(held={f"{runtime.settings.schema_name}.service.sweep"})
    runtime.job_locks = locks
    job = Flaky()
    record = runtime.every(TICK, "sweep", job)
    with pytest.raises(TimeoutError):
        await record.wait_rounds(1, within=0.2)
    assert job.calls == 0 and record.rounds == 0 and record.skipped >= 3
    locks.held.clear()
    await record.wait_rounds(1, within=5)
    assert job.calls >= 1
