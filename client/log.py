"""Checking the audit log on the client (RFC 6962 / RFC 9162): nothing the server says
about hashes is taken on trust, only the signed tree head and the published key.

The leaf hash is ``SHA-256(0x00 || leaf data)``, an inner node ``SHA-256(0x01 || left ||
right)``; a tree head's signature covers ``"privacy-events audit tree head v1\\n" +
"<tree_size>\\n<root hex>\\n<timestamp ms>"`` (``docs/audit.md``).
"""

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client.call import Call
from client.models.audit import EntryOut, InclusionProof, PublicKey, TreeHead

HEAD_PREFIX = b"privacy-events audit tree head v1\n"


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 6962's hash of a leaf."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962's hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def head_message(head: TreeHead) -> bytes:
    """The bytes a tree head's signature covers."""
    root = base64.b64decode(head.root_hash)
    return HEAD_PREFIX + f"{head.tree_size}\n{root.hex()}\n{head.timestamp}".encode()


def head_signed(head: TreeHead, key: PublicKey) -> bool:
    """Whether ``head`` is signed by ``key``."""
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key))
    try:
        public.verify(base64.b64decode(head.signature), head_message(head))
    except InvalidSignature:
        return False
    return True


class RootBuilder:
    """The root of a tree grown one leaf hash at a time, in O(log n) memory: the stack
    holds the roots of the complete subtrees so far, largest first."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    def add(self, leaf: bytes) -> None:
        """Append a leaf hash."""
        size, node = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, node = left_size + size, node_hash(left, node)
        self._stack.append((size, node))
        self.size += 1

    def root(self) -> bytes:
        """The root of the tree of the leaves added so far (RFC 6962 MTH)."""
        if not self._stack:
            return hashlib.sha256(b"").digest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: list[bytes]) -> bytes:
    """The root of a list of leaf hashes."""
    builder = RootBuilder()
    for leaf in leaves:
        builder.add(leaf)
    return builder.root()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: whether ``leaf`` is at ``index`` of the tree ``root``."""
    if index >= size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and node == root


def proof_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf range ``[lo, hi)`` each hash of an inclusion proof stands for, in the
    proof's order (deepest first), from RFC 6962's PATH(m, D[n])."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    return ranges[::-1]


@dataclass(frozen=True)
class Mismatch:
    """The first entry whose data does not hash to what the signed tree holds."""

    seq: int
    problem: str


def first_mismatch(
    leaves: list[bytes], size: int, proof: Callable[[int], InclusionProof]
) -> Mismatch | None:
    """Find the leftmost leaf whose recomputed hash disagrees with the signed tree.

    ``leaves`` are the hashes recomputed from the entries' data. Walking down from the
    root, each step asks the server for one inclusion proof, whose hashes are those of the
    stored (signed) tree, and goes left when the recomputed left subtree differs from the
    stored one: log2(n) requests, O(n) hashing.
    """
    lo, hi = 0, size
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        mid = lo + k
        answer = proof(mid)
        stored = dict(zip(proof_ranges(mid, size), answer.audit_path, strict=True))
        left = base64.b64decode(stored[(lo, mid)])
        if root_of(leaves[lo:mid]) != left:
            hi = mid
        else:
            lo = mid
    stored_leaf = base64.b64decode(proof(lo).leaf_hash)
    if stored_leaf != leaves[lo]:
        return Mismatch(lo, "the entry's data no longer hashes to its leaf in the signed tree")
    return None


def entry_calls(start: int, end: int) -> Iterator[Call[EntryOut]]:
    """The calls that read entries ``start`` to ``end - 1``, one each.

    The audit service has no bulk read of entries yet; when it has one (``GET
    /entries?start=&end=``), :func:`read_leaves`'s source changes and nothing else.
    """
    for seq in range(start, end):
        yield Call(
            service="audit", method="GET", path=f"/entries/{seq}", returns=EntryOut, retry=True
        )


def leaf_hashes(entries: Iterable[EntryOut]) -> Iterator[tuple[int, bytes]]:
    """Each entry's sequence number and the hash of its leaf data, recomputed."""
    for entry in entries:
        yield entry.seq, leaf_hash(base64.b64decode(entry.leaf_data))
