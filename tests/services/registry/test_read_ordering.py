"""The lean read path keeps its guarantees: the row held for the whole decision, the
record committed before any data leaves, and the answer the documented model."""

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import asyncpg
import httpx
import pytest

from devtools.stack import DATABASE_URL
from services.registry.clients import ConsentClient
from services.registry.models import DisclosureOut
from shared import events
from shared.db import asyncpg_dsn
from tests.services.registry.conftest import PH_ORG, SHARING, Stack, org
from tests.services.registry.reading import published_since, tail

pytestmark = pytest.mark.integration

Read = Callable[[Stack, str], Coroutine[Any, Any, httpx.Response]]


async def single(stack: Stack, user_id: str) -> httpx.Response:
    return await stack.read(user_id, PH_ORG, "full_name")


async def batch(stack: Stack, user_id: str) -> httpx.Response:
    body = {"purpose": SHARING, "fields": ["full_name"], "user_ids": [user_id]}
    return await stack.registry.post("/reports/users", json=body, headers=org(PH_ORG))


READS = pytest.mark.parametrize("read", [single, batch], ids=["single", "batch"])


@pytest.fixture
async def allowed(stack: Stack) -> str:
    uid = (await stack.register())["user_id"]
    await stack.access_grant(PH_ORG, ["full_name"])
    await stack.consent_to(uid, SHARING, organisation=PH_ORG)
    return uid


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the registry's schema, as its owner."""
    conn = await asyncpg.connect(
        asyncpg_dsn(DATABASE_URL), server_settings={"search_path": stack.schema}
    )
    try:
        yield conn
    finally:
        await conn.close()


@READS
async def test_no_data_leaves_before_the_record_of_the_read_commits(
    stack: Stack, allowed: str, db: asyncpg.Connection, read: Read
) -> None:
    start = await tail(f"{stack.prefix}{events.DATA_ACCESSED}")
    locked = db.transaction()
    await locked.start()
    await db.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")  # staging must wait for it
    pending = asyncio.create_task(read(stack, allowed))
    await asyncio.sleep(1.5)

    assert not pending.done(), "the data left before its record was staged"
    await locked.rollback()
    response = await asyncio.wait_for(pending, 10)
    assert response.status_code == 200, response.text
    [record] = await published_since(start, {allowed}, 1)
    assert record["payload"]["decision"] == "allow"


@READS
async def test_the_users_row_is_held_for_share_while_the_consent_service_decides(
    stack: Stack,
    allowed: str,
    db: asyncpg.Connection,
    read: Read,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deciding, answer = asyncio.Event(), asyncio.Event()
    decide = ConsentClient.decide

    async def slow(self: ConsentClient, **question: Any) -> Any:
        deciding.set()
        await answer.wait()
        return await decide(self, **question)

    monkeypatch.setattr(ConsentClient, "decide", slow)
    pending = asyncio.create_task(read(stack, allowed))
    await asyncio.wait_for(deciding.wait(), 10)

    async with db.transaction():
        with pytest.raises(asyncpg.LockNotAvailableError):
            await db.execute("SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE NOWAIT", allowed)
    answer.set()
    response = await asyncio.wait_for(pending, 10)
    assert response.status_code == 200, response.text
    async with db.transaction():  # released once the read committed
        await db.execute("SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE NOWAIT", allowed)


async def test_the_lean_answer_is_the_documented_model(stack: Stack, allowed: str) -> None:
    response = await single(stack, allowed)
    assert response.status_code == 200, response.text
    model = DisclosureOut.model_validate_json(response.content)
    assert model.model_dump_json().encode() == response.content
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/users/a%20b/data", {"purpose": SHARING, "fields": "full_name"}, "path.user_id"),
        ("/users/u1/data", {"purpose": "Bad-Purpose", "fields": "full_name"}, "query.purpose"),
        ("/users/u1/data", {"fields": "full_name"}, "query.purpose"),
        ("/users/u1/data", {"purpose": SHARING}, "query.fields"),
        ("/users/u1/data", {"purpose": SHARING, "fields": ""}, "fields"),
    ],
    ids=["user-id", "purpose", "no-purpose", "no-fields", "empty-fields"],
)
async def test_the_lean_route_refuses_bad_input_naming_the_field_as_before(
    stack: Stack, path: str, params: dict[str, str], field: str
) -> None:
    response = await stack.registry.get(path, params=params, headers=org(PH_ORG))
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == field
