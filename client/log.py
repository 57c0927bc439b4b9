"""Checking the audit log on the client (RFC 6962 / RFC 9162): nothing the server says
about hashes is taken on trust, only the signed tree head and the published key.

The leaf hash is ``SHA-256(0x00 || leaf data)``, an inner node ``SHA-256(0x01 || left ||
right)``; a tree head's signature covers ``"privacy-events audit tree head v1\\n" +
"<tree_size>\\n<root hex>\\n<timestamp ms>"`` (``docs/audit.md``).
"""

import base64
import hashlib
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client.call import Call
from client.errors import ApiError
from client.models.audit import EntryOut, InclusionProof, PublicKey, TreeHead

if TYPE_CHECKING:
    from client.http import Client

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

    def extend(self, leaves: list[bytes]) -> None:
        """Append leaf hashes in order."""
        stack, hash_pair = self._stack, node_hash
        for node in leaves:
            size = 1
            while stack and stack[-1][0] == size:
                left_size, left = stack.pop()
                size, node = left_size + size, hash_pair(left, node)
            stack.append((size, node))
        self.size += len(leaves)

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


class Hashes:
    """Leaf hashes, 32 bytes each in one buffer (a million take 32 MB)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def append(self, digest: bytes) -> None:
        """Add one hash."""
        self._buffer += digest

    def extend(self, digests: list[bytes]) -> None:
        """Add hashes in order."""
        self._buffer += b"".join(digests)

    def __len__(self) -> int:
        return len(self._buffer) // 32

    def __getitem__(self, index: int) -> bytes:
        return bytes(self._buffer[index * 32 : index * 32 + 32])

    def range(self, lo: int, hi: int) -> list[bytes]:
        """The hashes ``lo`` to ``hi - 1``."""
        return [self[i] for i in range(lo, hi)]


def first_mismatch(
    leaves: Hashes, size: int, proof: Callable[[int], InclusionProof]
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
        if root_of(leaves.range(lo, mid)) != left:
            hi = mid
        else:
            lo = mid
    stored_leaf = base64.b64decode(proof(lo).leaf_hash)
    if stored_leaf != leaves[lo]:
        return Mismatch(lo, "the entry's data no longer hashes to its leaf in the signed tree")
    return None


BULK = 100_000
"""Entries a bulk read asks for at once (the audit service's most)."""
WORKERS = 8
WINDOW = 512


def bulk_entries(start: int, end: int) -> Call[bytes]:
    """Entries ``start`` to ``end - 1`` streamed as JSON lines, each line exactly an
    entry's leaf data (``GET /entries?start=&end=``; ``client.stream``)."""
    return Call(
        service="audit",
        method="GET",
        path="/entries",
        returns=bytes,
        params={"start": start, "end": end},
        retry=True,
    )


def entry_calls(start: int, end: int) -> Iterator[Call[EntryOut]]:
    """The calls that read entries ``start`` to ``end - 1``, one each."""
    for seq in range(start, end):
        yield Call(
            service="audit", method="GET", path=f"/entries/{seq}", returns=EntryOut, retry=True
        )


def leaves(client: "Client", size: int) -> Iterator[bytes]:
    """The hash of every entry's leaf data, recomputed here, in log order."""
    for batch in leaf_batches(client, size):
        yield from batch


def leaf_batches(client: "Client", size: int) -> Iterator[list[bytes]]:
    """The hash of every entry's leaf data, recomputed here, in log order, a batch (what
    arrived in one read) at a time.

    Read with the audit service's bulk read (``GET /entries?start=&end=``, a stream of
    leaf data) where it has one; where it answers that it has none, one request an
    entry (``GET /entries/{seq}``), ``WORKERS`` in flight.
    """
    bulk = _bulk_leaves(client, size)
    try:
        first = next(bulk, None)
    except ApiError as exc:
        if exc.status not in (404, 405):  # anything but "no such route" is a failure
            raise
        yield from _leaves_one_by_one(client, size)
        return
    if first is not None:
        yield first
        yield from bulk


def _bulk_leaves(client: "Client", size: int) -> Iterator[list[bytes]]:
    sha256 = hashlib.sha256
    for start in range(0, size, BULK):
        end, count, rest = min(start + BULK, size), 0, b""
        for chunk in client.stream(bulk_entries(start, end), chunk_size=1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            if lines:
                yield [sha256(b"\x00" + line).digest() for line in lines]
                count += len(lines)
        if rest:
            yield [leaf_hash(rest)]
            count += 1
        if count != end - start:
            raise ShortAnswer(
                f"the audit service gave {count} entries from {start} where {end - start} "
                "were asked for"
            )


def _leaves_one_by_one(client: "Client", size: int) -> Iterator[list[bytes]]:
    with ThreadPoolExecutor(WORKERS) as pool:
        calls = entry_calls(0, size)
        while window := list(itertools.islice(calls, WINDOW)):
            yield [
                leaf_hash(base64.b64decode(entry.leaf_data))
                for entry in pool.map(client.send, window)
            ]


class ShortAnswer(Exception):
    """The service answered fewer entries than the signed tree has."""
