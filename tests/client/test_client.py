"""The client: typed answers, typed errors, pages and streams, sync and async alike;
and its checks of the audit log against the service's own Merkle code."""

import hashlib
import json
import random

import httpx
import pytest

from client import AsyncClient, Client, Conflict, Invalid, NotFound, ServiceUrls, Unavailable, audit
from client import log as merkle
from services.audit import merkle as service_merkle
from tests.privacyctl.fakes import disclosure, error


def paged(request: httpx.Request) -> httpx.Response:
    if request.url.path != "/disclosures":
        return httpx.Response(404, json=error("NotFound", f"no entry {request.url.path}", "seq"))
    cursor = int(request.url.params.get("cursor", 0))
    items = [disclosure(cursor + i) for i in range(2)]
    return httpx.Response(
        200, json={"items": items, "next_cursor": cursor + 2 if cursor < 4 else None}
    )


def test_pages_yield_every_item_of_every_page() -> None:
    with Client(transport=httpx.MockTransport(paged)) as api:
        seqs = [d.seq for d in api.pages(audit.disclosures(audit.Filters(organisation="x")))]
    assert seqs == [0, 1, 2, 3, 4, 5]


async def test_the_async_client_pages_the_same_way() -> None:
    async with AsyncClient(transport=httpx.MockTransport(paged)) as api:
        seqs = [d.seq async for d in api.pages(audit.disclosures())]
        with pytest.raises(NotFound) as raised:
            await api.send(audit.entry(7))
    assert seqs == [0, 1, 2, 3, 4, 5]
    assert raised.value.field == "seq" and raised.value.status == 404


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, Invalid), (404, NotFound), (409, Conflict), (410, NotFound), (503, Unavailable)],
)
def test_errors_are_typed_and_carry_the_detail(status: int, kind: type[Exception]) -> None:
    body = error("Something", "what went wrong", "the_field", extra_context=1)
    transport = httpx.MockTransport(lambda _r: httpx.Response(status, json=body))
    with Client(transport=transport) as api, pytest.raises(kind) as raised:
        api.send(audit.public_key())
    assert raised.value.message == "what went wrong"  # type: ignore[attr-defined]
    assert raised.value.field == "the_field"  # type: ignore[attr-defined]
    assert raised.value.detail["extra_context"] == 1  # type: ignore[attr-defined]


def test_each_service_has_its_own_base_url() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=[])

    transport = httpx.MockTransport(answer)
    urls = ServiceUrls({"consent": "http://consent.test:1/"})
    with Client(urls, token="t", transport=transport) as api:
        from client import consent

        api.send(consent.grants("ph-philexport"))
    assert seen == ["http://consent.test:1/grants?organisation=ph-philexport"]


def test_a_stream_arrives_in_chunks() -> None:
    body = b"".join(json.dumps(disclosure(i)).encode() + b"\n" for i in range(1000))
    transport = httpx.MockTransport(lambda _r: httpx.Response(200, content=body))
    with Client(transport=transport) as api:
        chunks = list(api.stream(audit.export(format="jsonl"), chunk_size=4096))
    assert b"".join(chunks) == body and len(chunks) > 1


def stored(nodes: dict[tuple[int, int], bytes]) -> service_merkle.Getter:
    return lambda level, index: nodes[(level, index)]


def test_roots_and_proofs_agree_with_the_services_merkle_code() -> None:
    rng = random.Random(6962)
    for size in [*range(1, 40), 100, 257, 1000]:
        leaves = [hashlib.sha256(rng.randbytes(8)).digest() for _ in range(size)]
        frontier = service_merkle.Frontier()
        nodes = {(0, i): leaf for i, leaf in enumerate(leaves)}
        for level, index, node in frontier.append(leaves):
            nodes[(level, index)] = node
        assert merkle.root_of(leaves) == frontier.root()
        for index in {0, size // 2, size - 1}:
            path = service_merkle.inclusion_proof(index, size, stored(nodes))
            assert merkle.verify_inclusion(leaves[index], index, size, path, frontier.root())
            other = hashlib.sha256(leaves[index]).digest()
            assert not merkle.verify_inclusion(other, index, size, path, frontier.root())
            for (lo, hi), hashed in zip(merkle.proof_ranges(index, size), path, strict=True):
                assert merkle.root_of(leaves[lo:hi]) == hashed
