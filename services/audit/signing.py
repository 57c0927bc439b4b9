"""Signed tree heads: the service's Ed25519 key, and a head for each size the log grows to."""

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.audit import repository
from services.audit.checks import Clock, utc_now
from services.audit.domain import tree_head_message
from services.audit.exceptions import NotFound
from services.audit.ingestion import AuditLog
from services.audit.models import PublicKey, TreeHead
from shared.db import Sessions, transaction
from shared.tlog.note import NoteSigner


@dataclass
class Signer:
    """Signs tree heads with the service's Ed25519 key."""

    key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> "Signer":
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """The first 16 hex digits of SHA-256 of the raw public key."""
        return hashlib.sha256(self.public_key).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def note_signer(self, origin: str) -> NoteSigner:
        """The same key, signing checkpoints as C2SP signed notes named ``origin``."""
        return NoteSigner(origin, self.key)

    def described(self, origin: str) -> PublicKey:
        """The public key, as ``GET /public-key`` shows it."""
        return PublicKey(
            algorithm="Ed25519",
            key_id=self.key_id,
            public_key=base64.b64encode(self.public_key).decode(),
            origin=origin,
            verifier_key=self.note_signer(origin).verifier.vkey,
        )


async def sign_tree_head(
    sessions: Sessions, audit_log: AuditLog, signer: Signer, clock: Clock = utc_now
) -> int | None:
    """Sign and store a head for the current tree unless one exists; return its size."""
    frontier = audit_log.frontier  # one read: the writer's thread replaces it
    size, root = frontier.size, frontier.root()
    if size == 0:
        return None
    async with transaction(sessions) as session:
        latest = await repository.tree_heads(session, limit=1, before=None)
        if latest and latest[0].tree_size >= size:
            return None
        now: datetime = clock()  # to the millisecond, as the signed message carries it
        signed_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        signature = signer.sign(tree_head_message(size, root, signed_at))
        await repository.add_tree_head(session, size, root, signed_at, signature, signer.key_id)
    return size


def tree_head_out(row: Any) -> TreeHead:
    """A stored tree head as the API shows it."""
    return TreeHead(
        tree_size=row.tree_size,
        root_hash=base64.b64encode(row.root_hash).decode(),
        timestamp=int(row.signed_at.timestamp() * 1000),
        signed_at=row.signed_at,
        signature=base64.b64encode(row.signature).decode(),
        key_id=row.key_id,
    )


async def latest_tree_head(sessions: Sessions) -> TreeHead:
    """The newest signed tree head."""
    async with sessions() as session:
        rows = await repository.tree_heads(session, limit=1, before=None)
    if not rows:
        raise NotFound("no tree head has been signed yet", field="tree_size")
    return tree_head_out(rows[0])


async def tree_heads(sessions: Sessions, *, limit: int, before: int | None) -> list[TreeHead]:
    """Signed tree heads, newest first, below ``before`` when given."""
    async with sessions() as session:
        rows = await repository.tree_heads(session, limit=limit, before=before)
    return [tree_head_out(r) for r in rows]
