"""Witnesses cosign the log's checkpoints (c2sp.org/tlog-witness): each round, the newest
checkpoint goes to every configured witness with a consistency proof from the last size
that witness cosigned; the cosignatures that come back, checked under the witness's
key, are kept (``checkpoint_cosignatures``) and served with the checkpoint.

Where a witness stands is learnt from it: the first submission says ``old 0``, and a
witness that already cosigned a size answers 409 with it, after which the submission
is made again with the proof from there.
"""

from dataclasses import dataclass, field

import httpx

from services.audit import checkpoints, log_store, proofs
from services.audit.config import WitnessSettings
from services.audit.exceptions import NotFound
from shared.db import Sessions, transaction
from shared.logging import get_logger
from shared.tlog.note import NoteError, NoteSigner, Verifier, cosignature_time, parse_vkey, split

log = get_logger(__name__)
SIZE_TYPE = "text/x.tlog.size"


@dataclass
class Witness:
    """A configured witness, and the last size it is known to have cosigned."""

    verifier: Verifier
    url: str
    size: int = 0

    @classmethod
    def configured(cls, settings: WitnessSettings) -> "Witness":
        return cls(parse_vkey(settings.vkey), settings.url.rstrip("/"))


@dataclass
class Submitter:
    """Submits the newest checkpoint to each witness and keeps their cosignatures."""

    sessions: Sessions
    signer: NoteSigner
    witnesses: list[Witness]
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10.0))

    async def round(self) -> None:
        """One round: every witness that has not cosigned the newest checkpoint is asked."""
        try:
            newest = await checkpoints.latest(self.sessions, self.signer)
        except NotFound:  # no head signed yet: nothing to submit
            return
        cosigned = {split(b"x\n\n" + line.encode()).signatures[0].name for line in _lines(newest)}
        for witness in self.witnesses:
            if witness.verifier.name in cosigned:
                continue
            try:
                await self.submit(witness, newest.checkpoint.size)
            except (httpx.HTTPError, NoteError, ValueError) as exc:
                log.warning("audit.witness_failed", witness=witness.verifier.name, error=repr(exc))

    async def submit(self, witness: Witness, size: int) -> bool:
        """Ask ``witness`` to cosign the checkpoint of ``size``; whether it did."""
        for _ in range(2):  # a second time from where a 409 says it stands
            if witness.size > size:
                log.error("audit.witness_ahead", witness=witness.verifier.name, size=witness.size)
                return False
            body = await self._request(witness.size, size)
            response = await self.client.post(f"{witness.url}/add-checkpoint", content=body)
            if response.status_code == 409 and response.headers.get("content-type", "").startswith(
                SIZE_TYPE
            ):
                witness.size = int(response.text.strip())
                continue
            if response.status_code != 200:
                log.warning(
                    "audit.witness_refused",
                    witness=witness.verifier.name,
                    status=response.status_code,
                    answer=response.text[:200],
                )
                return False
            await self._keep(witness, size, response.text)
            witness.size = size
            return True
        return False

    async def _request(self, old: int, size: int) -> bytes:
        signed = await checkpoints.at(self.sessions, self.signer, size)
        proof = (
            (await proofs.consistency(self.sessions, old, size)).consistency_path
            if 0 < old < size
            else []
        )
        return (
            f"old {old}\n".encode()
            + "".join(p + "\n" for p in proof).encode()
            + b"\n"
            + signed.note
        )

    async def _keep(self, witness: Witness, size: int, answer: str) -> None:
        """Keep the witness's cosignature lines that verify under its key over the
        checkpoint of ``size``; the others are ignored, as the spec says."""
        signed = await checkpoints.at(self.sessions, self.signer, size)
        kept = 0
        for line in answer.splitlines(keepends=True):
            try:
                signature = split(signed.text + b"\n" + line.encode()).signatures[0]
            except NoteError:
                continue
            if (signature.name, signature.key_id) != (
                witness.verifier.name,
                witness.verifier.key_id,
            ):
                continue
            if not witness.verifier.verify(signed.text, signature.signature):
                log.error("audit.witness_bad_cosignature", witness=witness.verifier.name)
                continue
            async with transaction(self.sessions) as session:
                await log_store.add_cosignature(
                    session, size, witness.verifier.name, line, cosignature_time(signature)
                )
            kept += 1
        log.info("audit.cosigned", witness=witness.verifier.name, tree_size=size, lines=kept)

    async def close(self) -> None:
        await self.client.aclose()


def _lines(signed: checkpoints.SignedCheckpoint) -> list[str]:
    """The signature lines after the log's own."""
    block = signed.note[len(signed.text) + 1 :].decode()
    return block.splitlines(keepends=True)[1:]
