"""Our witness (devtools.witness): it cosigns a log's checkpoints while they stay
consistent, and refuses a fork with the status codes c2sp.org/tlog-witness gives."""

import asyncio
import base64
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devtools.witness import Witness, build_app, witness_of
from services.audit import merkle
from shared.tlog.note import Checkpoint, NoteSigner, open_checkpoint

ORIGIN = "log.example/a"


class FakeLog:
    """A log of numbered leaves, signing checkpoints with its own key."""

    def __init__(self, key: Ed25519PrivateKey | None = None, salt: bytes = b"") -> None:
        self.signer = NoteSigner(ORIGIN, key or Ed25519PrivateKey.generate())
        self.salt = salt

    def leaves(self, size: int) -> list[bytes]:
        return [merkle.leaf_hash(self.salt + str(i).encode()) for i in range(size)]

    def get(self, size: int) -> merkle.Getter:
        leaves = self.leaves(size)
        return lambda level, index: merkle.perfect_hash(
            leaves[index << level : (index + 1) << level]
        )

    def checkpoint(self, size: int) -> tuple[Checkpoint, bytes]:
        checkpoint = Checkpoint(ORIGIN, size, merkle.root(size, self.get(size)))
        text = checkpoint.text
        return checkpoint, text + b"\n" + self.signer.signature_line(text).encode()

    def request(self, old: int, size: int, proof: list[bytes] | None = None) -> bytes:
        if proof is None:
            proof = merkle.consistency_proof(old, size, self.get(size)) if 0 < old < size else []
        _, note = self.checkpoint(size)
        lines = "".join(base64.b64encode(p).decode() + "\n" for p in proof)
        return f"old {old}\n{lines}\n".encode() + note


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def witness(tmp_path: Path, log: FakeLog) -> Witness:
    key = Ed25519PrivateKey.generate()
    return witness_of("witness.example/w1", key, [log.signer.verifier.vkey], tmp_path / "w.json")


def add(witness: Witness, body: bytes) -> tuple[int, str]:
    answer = asyncio.run(witness.add_checkpoint(body))
    return answer.status, answer.body


def test_it_cosigns_a_log_that_grows_consistently(witness: Witness, log: FakeLog) -> None:
    status, line = add(witness, log.request(0, 5))
    assert status == 200
    _, note = log.checkpoint(5)
    _, verified = open_checkpoint(
        note + line.encode(), [log.signer.verifier, witness.cosigner.verifier]
    )
    assert verified == [log.signer.verifier, witness.cosigner.verifier]
    assert add(witness, log.request(5, 12))[0] == 200
    assert add(witness, log.request(12, 12))[0] == 200  # the same checkpoint, again
    assert witness.state.read()[ORIGIN][0] == 12


def test_it_refuses_another_checkpoint_of_the_same_size(witness: Witness, log: FakeLog) -> None:
    assert add(witness, log.request(0, 8))[0] == 200
    fork = FakeLog(key=None, salt=b"fork")
    fork.signer = log.signer  # the same log key, another tree
    assert add(witness, fork.request(8, 8)) == (409, "8\n")


def test_it_refuses_a_smaller_checkpoint(witness: Witness, log: FakeLog) -> None:
    assert add(witness, log.request(0, 8))[0] == 200
    assert add(witness, log.request(8, 6, proof=[]))[0] == 400  # old above the new size
    assert add(witness, log.request(6, 7)) == (409, "8\n")  # not where it stands
    answer = asyncio.run(witness.add_checkpoint(log.request(0, 3)))
    assert (answer.status, answer.media_type) == (409, "text/x.tlog.size")


def test_it_refuses_a_bad_proof(witness: Witness, log: FakeLog) -> None:
    assert add(witness, log.request(0, 8))[0] == 200
    fork = FakeLog(salt=b"fork")
    fork.signer = log.signer
    # a tree of 20 whose first 8 leaves differ from what it cosigned: no proof holds
    assert add(witness, fork.request(8, 20))[0] == 422
    good = merkle.consistency_proof(8, 20, log.get(20))
    assert add(witness, log.request(8, 20, proof=good[:-1]))[0] == 422
    assert add(witness, log.request(8, 20, proof=[bytes(32), *good[1:]]))[0] == 422
    assert witness.state.read()[ORIGIN][0] == 8  # nothing was stored
    assert add(witness, log.request(8, 20))[0] == 200


def test_it_refuses_unknown_logs_bad_signatures_and_malformed_requests(
    witness: Witness, log: FakeLog
) -> None:
    stranger = FakeLog()
    assert add(witness, stranger.request(0, 3))[0] == 403  # same origin, unknown key
    body = log.request(0, 3)
    assert add(witness, body.replace(b"log.example/a\n3", b"log.example/z\n3"))[0] == 404
    forged = body.replace(b"log.example/a\n3", b"log.example/a\n4")
    assert add(witness, forged)[0] == 403  # a known log's key, over other text
    assert add(witness, b"old 01\n\n" + body.split(b"\n\n", 1)[1])[0] == 400
    assert add(witness, b"new 0\n\n" + body.split(b"\n\n", 1)[1])[0] == 400
    assert add(witness, log.request(0, 3, proof=[bytes(32)]))[0] == 422


def test_concurrent_submissions_never_roll_the_state_back(witness: Witness, log: FakeLog) -> None:
    assert add(witness, log.request(0, 4))[0] == 200

    async def both() -> list[int]:
        answers = await asyncio.gather(
            witness.add_checkpoint(log.request(4, 10)), witness.add_checkpoint(log.request(4, 6))
        )
        return [a.status for a in answers]

    assert sorted(asyncio.run(both())) == [200, 409]
    assert witness.state.read()[ORIGIN][0] in (6, 10)


def test_its_http_api_answers_as_the_spec_says(witness: Witness, log: FakeLog) -> None:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(witness))
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
            await client.post("/add-checkpoint", content=log.request(0, 4))
            return await client.post("/add-checkpoint", content=log.request(0, 4))

    response = asyncio.run(call())
    assert response.status_code == 409
    assert response.headers["content-type"] == "text/x.tlog.size"
    assert response.text == "4\n"
