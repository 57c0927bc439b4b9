"""A small witness (c2sp.org/tlog-witness) of our own, to show the loop working: it keeps
the latest checkpoint it cosigned for each log it knows, and cosigns a new one only if
it is consistent with that one (c2sp.org/tlog-cosignature, ``cosignature/v1``).

    python -m devtools.witness --name witness.example/w1 --key-file w1.key \\
        --state w1.json --log 'localhost/privacy-audit-log+0c1fa1f4+AcK...' --port 8010

``--key-file`` holds a 32-byte Ed25519 seed in base64 (made when missing); the verifier
key to give the log (``AUDIT_WITNESSES``) is printed at start. The state is a JSON file,
updated by an atomic compare-and-store: checked and written under one lock, replaced
with ``os.replace``, so two submissions at once never roll the state back.
"""

import argparse
import asyncio
import base64
import binascii
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request, Response

from shared.tlog.hashes import verify_consistency
from shared.tlog.note import Cosigner, NoteError, Verifier, open_checkpoint, parse_vkey

MAX_PROOF = 63
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    """The witness's answer: a status, a body, its content type."""

    status: int
    body: str
    media_type: str = "text/plain; charset=utf-8"


class StateFile:
    """The latest cosigned (size, root) of each log, in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = asyncio.Lock()

    def read(self) -> dict[str, tuple[int, bytes]]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text())
        return {o: (int(s["size"]), base64.b64decode(s["root"])) for o, s in raw.items()}

    def write(self, state: dict[str, tuple[int, bytes]]) -> None:
        data = {o: {"size": s, "root": base64.b64encode(r).decode()} for o, (s, r) in state.items()}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
        with temporary.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, self.path)  # atomic: the old state or the new, never half


@dataclass
class Witness:
    """A witness: its cosigning key, the logs it knows (origin: keys), its state."""

    cosigner: Cosigner
    logs: dict[str, list[Verifier]]
    state: StateFile
    clock: Callable[[], float] = time.time

    async def add_checkpoint(self, body: bytes) -> Answer:
        """``POST /add-checkpoint``: cosign the checkpoint or say why not, with the
        status codes c2sp.org/tlog-witness gives each refusal."""
        try:
            old, proof, note = _request(body)
            origin = note.split(b"\n", 1)[0].decode()
        except (ValueError, UnicodeDecodeError) as exc:
            return Answer(400, f"{exc}\n")
        keys = self.logs.get(origin)
        if keys is None:
            return Answer(404, f"unknown log {origin!r}\n")
        try:
            checkpoint, _ = open_checkpoint(note, keys)
        except NoteError as exc:
            return Answer(403, f"the checkpoint does not verify: {exc}\n")
        if old > checkpoint.size:
            return Answer(400, f"old size {old} is above the checkpoint's {checkpoint.size}\n")
        async with self.state.lock:
            state = self.state.read()
            size, root = state.get(origin, (0, b""))
            if old != size:
                return Answer(409, f"{size}\n", SIZE_TYPE)
            if old == checkpoint.size:
                if old and checkpoint.root != root:
                    return Answer(409, f"{size}\n", SIZE_TYPE)  # a fork: same size, other root
                if proof:
                    return Answer(422, "no proof between equal sizes\n")
            elif old == 0:
                if proof:
                    return Answer(422, "the proof from size 0 is empty\n")
            elif not verify_consistency(old, checkpoint.size, root, checkpoint.root, proof):
                return Answer(422, f"no consistency from {old} to {checkpoint.size}\n")
            state[origin] = (checkpoint.size, checkpoint.root)
            self.state.write(state)
        return Answer(200, self.cosigner.signature_line(checkpoint.text, int(self.clock())))


def _request(body: bytes) -> tuple[int, list[bytes], bytes]:
    """``old <size>``, the proof lines, a blank line, the checkpoint note."""
    head, blank, note = body.partition(b"\n\n")
    if not blank:
        raise ValueError("expected an old size line, proof lines, a blank line, a checkpoint")
    lines = head.decode().split("\n")
    word, _, size = lines[0].partition(" ")
    if word != "old" or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise ValueError(f"expected 'old <size>', got {lines[0]!r}")
    if len(lines) - 1 > MAX_PROOF:
        raise ValueError(f"at most {MAX_PROOF} proof lines")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except binascii.Error as exc:
        raise ValueError(f"a proof line is not base64: {exc}") from exc
    if any(len(p) != 32 for p in proof):
        raise ValueError("a proof line is a 32-byte hash")
    return int(size), proof, note


def build_app(witness: Witness) -> FastAPI:
    """The witness's HTTP API: ``POST /add-checkpoint``."""
    app = FastAPI(title="witness", description=__doc__)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        answer = await witness.add_checkpoint(await request.body())
        # the content type as given: Starlette would add a charset to text/x.tlog.size
        headers = {"content-type": answer.media_type}
        return Response(answer.body, status_code=answer.status, headers=headers)

    return app


def load_key(path: Path) -> Ed25519PrivateKey:
    """The seed in ``path`` (base64), made when the file is missing."""
    if not path.exists():
        path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        path.chmod(0o600)
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(path.read_text().strip()))


def witness_of(name: str, key: Ed25519PrivateKey, logs: Sequence[str], state: Path) -> Witness:
    """A witness named ``name`` that knows the logs of these verifier keys."""
    known: dict[str, list[Verifier]] = {}
    for vkey in logs:
        verifier = parse_vkey(vkey)
        known.setdefault(verifier.name, []).append(verifier)
    return Witness(Cosigner(name, key), known, StateFile(state))


def main() -> None:
    parser = argparse.ArgumentParser(description="A tlog witness (c2sp.org/tlog-witness).")
    parser.add_argument("--name", required=True, help="the witness's name, e.g. witness.example/w1")
    parser.add_argument("--key-file", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--log", action="append", required=True, help="a log's verifier key")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    args = parser.parse_args()
    witness = witness_of(args.name, load_key(args.key_file), args.log, args.state)
    print(f"witness verifier key: {witness.cosigner.verifier.vkey}", flush=True)
    uvicorn.run(build_app(witness), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()


__all__ = ["Answer", "StateFile", "Witness", "build_app", "witness_of"]
