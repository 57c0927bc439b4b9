"""The log's checkpoints (c2sp.org/tlog-checkpoint), signed as C2SP notes.

A checkpoint is made only from a stored signed tree head (``signing.sign_tree_head``
signs heads of the one tree the log appends to, each larger than the last), so every
checkpoint the log signs is consistent with every other. Ed25519 is deterministic: the
same head gives the same note, whichever replica signs it, whenever; nothing more is
stored but the witnesses' cosignatures, which ``GET /checkpoint`` appends.
"""

from dataclasses import dataclass

from services.audit import log_store, repository
from services.audit.exceptions import NotFound
from shared.db import Sessions
from shared.tlog.note import Checkpoint, NoteSigner


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint, its note text and the whole signed note."""

    checkpoint: Checkpoint
    note: bytes

    @property
    def text(self) -> bytes:
        return self.checkpoint.text


def sign(signer: NoteSigner, size: int, root: bytes, cosignatures: list[str]) -> SignedCheckpoint:
    """The checkpoint of a signed head, signed by the log, with ``cosignatures`` after."""
    checkpoint = Checkpoint(signer.name, size, root)
    text = checkpoint.text
    lines = signer.signature_line(text) + "".join(cosignatures)
    return SignedCheckpoint(checkpoint, text + b"\n" + lines.encode())


async def latest(sessions: Sessions, signer: NoteSigner) -> SignedCheckpoint:
    """The checkpoint of the newest signed tree head, with its cosignatures."""
    async with sessions() as session:
        heads = await repository.tree_heads(session, limit=1, before=None)
        if not heads:
            raise NotFound("no tree head has been signed yet", field="tree_size")
        size, root = int(heads[0].tree_size), bytes(heads[0].root_hash)
        cosigned = await log_store.cosignatures(session, size)
    return sign(signer, size, root, cosigned)


async def at(sessions: Sessions, signer: NoteSigner, size: int) -> SignedCheckpoint:
    """The checkpoint of the signed tree head of ``size``, without cosignatures."""
    async with sessions() as session:
        head = await repository.tree_head(session, size)
    if head is None:
        raise NotFound(f"no signed tree head of size {size}", field="tree_size")
    return sign(signer, size, bytes(head.root_hash), [])
