"""Inclusion and consistency proofs in signed trees, from the stored nodes."""

import base64
from typing import Any

from services.audit import merkle, repository
from services.audit.exceptions import InvalidRequest, NotFound
from services.audit.models import ConsistencyProof, InclusionProof
from shared.db import Sessions


async def _signed_size(session: Any, tree_size: int) -> None:
    if await repository.tree_head(session, tree_size) is None:
        raise NotFound(
            f"no signed tree head of size {tree_size}; ask for one of GET /tree-heads",
            field="tree_size",
        )


async def inclusion(sessions: Sessions, seq: int, tree_size: int) -> InclusionProof:
    """Audit path of entry ``seq`` in the signed tree of ``tree_size`` entries."""
    if not 0 <= seq < tree_size:
        raise InvalidRequest(f"entry {seq} is not in a tree of size {tree_size}", field="seq")
    async with sessions() as session:
        await _signed_size(session, tree_size)
        keys = merkle.needed(lambda get: merkle.inclusion_proof(seq, tree_size, get))
        stored = await repository.hashes(session, keys | {(0, seq)})
    proof = merkle.inclusion_proof(seq, tree_size, lambda lv, i: stored[(lv, i)])
    return InclusionProof(
        seq=seq,
        tree_size=tree_size,
        leaf_hash=base64.b64encode(stored[(0, seq)]).decode(),
        audit_path=[base64.b64encode(h).decode() for h in proof],
    )


async def consistency(sessions: Sessions, first: int, second: int) -> ConsistencyProof:
    """Proof that the signed tree of ``first`` entries is a prefix of that of ``second``."""
    if not 0 < first <= second:
        raise InvalidRequest("need 0 < first <= second", field="first")
    async with sessions() as session:
        await _signed_size(session, first)
        await _signed_size(session, second)
        keys = merkle.needed(lambda get: merkle.consistency_proof(first, second, get))
        stored = await repository.hashes(session, keys)
    proof = merkle.consistency_proof(first, second, lambda lv, i: stored[(lv, i)])
    return ConsistencyProof(
        first=first,
        second=second,
        consistency_path=[base64.b64encode(h).decode() for h in proof],
    )
