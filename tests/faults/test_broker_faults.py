"""Brokers of the three-broker cluster killed under a steady mixed load, the whole stack
running against it: first a broker that is not the controller, then the controller's.

Each round: a few thousand people registered (as the registry announces them), the load
running (registrations, consents given and withdrawn on both consent replicas, an
organisation's reads), a breach declared naming the seeded people and the load's users,
then a broker killed with SIGKILL while the notices go out, left down for a while under
the load, and started again. After it: the checks of tests/faults/load.py, over
everything the load did since the stack started, and the counts printed.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from devtools.cluster import Cluster
from tests.faults import stack as fault_stack
from tests.faults.load import (
    Load,
    audit_rows,
    decisions,
    declare,
    disclosures_on_kafka,
    notices,
    seed_people,
    verify_log,
)
from tests.faults.stack import Stack
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.fault]

PEOPLE = 2000
"""Seeded people a round's breach names, besides the load's own users."""
BEFORE_SECONDS = 4.0
DOWN_SECONDS = 12.0
"""Longer than the brokers' session timeout (9 s): the controller fences the dead broker
and moves its partitions' leadership while the load runs."""
AFTER_SECONDS = 4.0


@pytest.fixture(scope="module")
async def stack(cluster: Cluster) -> AsyncIterator[Stack]:
    made = await fault_stack.start(cluster)
    try:
        yield made
    finally:
        await fault_stack.stop(made)


@pytest.fixture(scope="module")
async def load(stack: Stack) -> Load:
    made = Load(stack)
    async with httpx.AsyncClient(timeout=30) as client:
        await made.grant(client)
    return made


async def a_round(
    stack: Stack, load: Load, name: str, fault: Callable[[], Awaitable[int]]
) -> dict[str, Any]:
    """Load, a breach, the fault (it returns the node it killed), the node back, the checks."""
    started = time.monotonic()
    people = await seed_people(stack, PEOPLE)
    earlier = set(load.emails)  # named by an earlier round's breach
    load.stopping.clear()
    running = asyncio.create_task(load.run())
    try:
        await asyncio.sleep(BEFORE_SECONDS)
        affected = {**people, **{u: a for u, a in load.emails.items() if u not in earlier}}
        async with httpx.AsyncClient(timeout=60) as client:
            breach_id = await declare(client, stack, list(affected))
        victim = await fault()
        await asyncio.sleep(DOWN_SECONDS)
        killed_for = time.monotonic()
        await stack.cluster.start_node(victim)
        restart_seconds = time.monotonic() - killed_for
        await asyncio.sleep(AFTER_SECONDS)
    finally:
        load.stopping.set()
        await running
    loaded = time.monotonic()
    counts = await check(stack, load, breach_id, affected)
    return {
        "round": name,
        "killed": victim,
        **counts,
        "restart_seconds": round(restart_seconds, 1),
        "load_seconds": round(loaded - started, 1),
        "check_seconds": round(time.monotonic() - loaded, 1),
    }


async def check(
    stack: Stack, load: Load, breach_id: str, affected: dict[str, str]
) -> dict[str, Any]:
    async def ready() -> bool:
        return not await stack.not_ready()

    try:
        await wait_until(ready, 120, "every service ready")
    except TimeoutError:
        raise AssertionError(f"not ready: {await stack.not_ready()}\n{stack.tail()}") from None
    assert not load.failures, f"calls of the load failed: {dict(load.failures)}"

    # Every disclosure once on Kafka, and exactly once in the audit log.
    on_kafka = await disclosures_on_kafka(stack, set(load.emails), load.reads)
    assert sum(on_kafka.values()) == load.reads, (sum(on_kafka.values()), load.reads)
    assert max(on_kafka.values()) == 1, "a disclosure was published twice"

    async def all_logged() -> bool:
        return set(on_kafka) <= set((await audit_rows(stack))["ids"])

    await wait_until(all_logged, 120, "every disclosure in the audit log")
    log = await audit_rows(stack)
    assert log["size"] == log["last"] + 1, "the audit log has a gap"
    assert log["distinct"] == log["size"], "an event was logged twice"
    assert all(log["ids"][i] == 1 for i in on_kafka)

    async def signed() -> bool:
        return bool((await audit_rows(stack))["head"] >= log["size"])

    await wait_until(signed, 60, "a signed tree head covering the log")
    size, root_matches, signature_valid = await asyncio.to_thread(verify_log, stack)
    assert size >= log["size"] and root_matches and signature_valid

    # Every consent change applied by both consent replicas.
    wrong: dict[int, int] = {}

    async def applied() -> bool:
        nonlocal wrong
        wrong = await decisions(stack, dict(load.consents))
        return not any(wrong.values())

    try:
        await wait_until(applied, 60, "both consent replicas answering every change")
    except TimeoutError:
        raise AssertionError(f"decisions not as the changes made them: {wrong}") from None

    # Every affected person told once, but those the notifier marks uncertain.
    told = await notices(stack, breach_id, affected)
    assert told["affected"] == told["notified"] == len(affected), told
    assert told["not_emailed"] == 0, told
    assert told["emailed_twice_not_uncertain"] == 0, told
    return {
        "registered": len(load.emails),
        "consent_changes": load.changes,
        "reads": load.reads,
        "disclosures_on_kafka": len(on_kafka),
        "audit_entries": log["size"],
        "log_verified_size": size,
        "decisions_wrong": wrong,
        **told,
    }


def report(counts: dict[str, Any]) -> None:
    print("\nfault round: " + json.dumps(counts))  # the counts, for docs/faults.md (pytest -s)


async def test_a_broker_killed_and_restarted_under_load_loses_and_doubles_nothing(
    stack: Stack, load: Load
) -> None:
    async def kill_a_follower() -> int:
        controller = await stack.cluster.controller()
        victim = next(n for n in (3, 2, 1) if n != controller)
        await stack.cluster.kill(victim)
        return victim

    report(await a_round(stack, load, "broker", kill_a_follower))


async def test_the_controllers_broker_killed_and_restarted_under_load_loses_and_doubles_nothing(
    stack: Stack, load: Load
) -> None:
    async def kill_the_controller() -> int:
        controller = await stack.cluster.controller()
        await stack.cluster.kill(controller)
        return controller

    report(await a_round(stack, load, "controller", kill_the_controller))
