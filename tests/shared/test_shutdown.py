"""A service's shutdown is bounded step by step."""

import asyncio

import pytest

from shared import app as app_module


async def test_a_step_that_hangs_is_left_after_its_bound_and_the_next_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_module, "STOP_STEP_SECONDS", 0.2)
    ran: list[str] = []

    async def hangs() -> None:
        await asyncio.Event().wait()  # a consumer whose broker never answers

    async def stops() -> None:
        ran.append("next")

    loop = asyncio.get_running_loop()
    began = loop.time()
    # bounded here too, so that a regression fails the test instead of hanging the run
    await asyncio.wait_for(app_module._bounded("consumers", hangs()), 5)
    await app_module._bounded("relay", stops())
    assert loop.time() - began < 2
    assert ran == ["next"]
