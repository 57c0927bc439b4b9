"""A Certificate-Transparency Merkle tree (RFC 6962 / RFC 9162 section 2.1) over stored nodes.

The module holds no tree. Callers keep the hash of every *perfect* subtree once it is complete
(stored, or hashed again from its few leaves), keyed by (level, index): level 0 holds the leaf
hashes, and node (L, i) covers the leaves [i * 2**L, (i + 1) * 2**L). Perfect nodes never change
once written, so the table is append-only.
Every subtree in RFC 6962's recursion splits into at most one perfect node per level, so roots and
proofs for any past size are composed from O(log n) of those nodes, read through a getter. Writers
keep a `Frontier` (the right edge of the tree) to hash new leaves without reading anything else.
"""

from collections.abc import Callable, Sequence
from typing import TypeAlias

# The hashing and the proofs' verification are shared with the log's clients (monitors,
# witnesses), which import them from shared.tlog; they are re-exported here.
from shared.tlog.hashes import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "Getter",
    "NodeKey",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "needed",
    "node_hash",
    "perfect_hash",
    "range_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

NodeKey: TypeAlias = tuple[int, int]
Getter: TypeAlias = Callable[[int, int], bytes]


def perfect_hash(leaves: Sequence[bytes]) -> bytes:
    """The hash of a perfect subtree (2**L leaves) from its leaf hashes."""
    if not leaves or len(leaves) & (len(leaves) - 1):
        raise ValueError(f"a perfect subtree has 2**L leaves, got {len(leaves)}")
    level = list(leaves)
    while len(level) > 1:
        level = [node_hash(level[k], level[k + 1]) for k in range(0, len(level), 2)]
    return level[0]


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _pieces(start: int, end: int) -> list[NodeKey]:
    """The perfect nodes that tile [start, end), largest (leftmost) first."""
    keys: list[NodeKey] = []
    offset, count = start, end - start
    for level in range(count.bit_length() - 1, -1, -1):
        if count >> level & 1:
            keys.append((level, offset >> level))
            offset += 1 << level
    return keys


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The MTH of a tree whose perfect pieces, left to right, have these hashes."""
    # RFC 6962 always splits off the largest power of two on the left, so the right-hand
    # remainder is itself split the same way: the root nests to the right.
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for piece in reversed(hashes[:-1]):
        result = node_hash(piece, result)
    return result


class Frontier:
    """The right edge of a tree of `size` leaves: the perfect subtrees it is made of, by level."""

    def __init__(self, size: int = 0, roots: dict[int, bytes] | None = None) -> None:
        roots = dict(roots or {})
        if size < 0:
            raise ValueError(f"tree size must not be negative, got {size}")
        levels = {level for level, _ in self.keys(size)}
        if set(roots) != levels:
            raise ValueError(
                f"a tree of {size} leaves has frontier levels {sorted(levels)}, "
                f"got roots for levels {sorted(roots)}"
            )
        self.size = size
        self.roots = roots

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes; return the perfect nodes they complete as (level, index, hash)."""
        # Only levels >= 1, in creation order (children before parents): the leaves themselves
        # are the caller's to store, at level 0.
        created: list[tuple[int, int, bytes]] = []
        for leaf in leaf_hashes:
            # Like a binary increment: each trailing 1 bit of the size is a perfect subtree that
            # the new leaf completes into one twice its size.
            position, level, current = self.size, 0, leaf
            while level in self.roots:
                current = node_hash(self.roots.pop(level), current)
                level += 1
                created.append((level, position >> level, current))
            self.roots[level] = current
            self.size += 1
        return created

    def root(self) -> bytes:
        """The RFC 6962 root of the current tree (EMPTY_ROOT if empty), from the frontier alone."""
        return _fold([self.roots[level] for level, _ in self.keys(self.size)])

    @staticmethod
    def keys(size: int) -> list[NodeKey]:
        """The (level, index) perfect nodes that form the frontier of a tree of `size` leaves."""
        return _pieces(0, size)


def range_hash(start: int, end: int, get: Getter) -> bytes:
    """The MTH of leaves [start, end), a subtree of RFC 6962's recursion, from perfect nodes."""
    if start < 0 or end < start:
        raise ValueError(f"not a range of leaves: [{start}, {end})")
    if start == end:
        return EMPTY_ROOT
    # Only ranges aligned like this are subtrees of some tree's recursion; anything else would
    # need nodes that straddle perfect-subtree boundaries, which are never stored.
    alignment = 1 << ((end - start).bit_length() - 1)
    if start % alignment:
        raise ValueError(
            f"[{start}, {end}) is not a subtree: {start} is not a multiple of {alignment}"
        )
    return _fold([get(level, index) for level, index in _pieces(start, end)])


def root(size: int, get: Getter) -> bytes:
    """The MTH of the first `size` leaves, from perfect nodes."""
    return range_hash(0, size, get)


def inclusion_proof(index: int, size: int, get: Getter) -> list[bytes]:
    """The RFC 6962 audit path PATH(index, D[size])."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of {size} leaves")
    # Walk down from the root; RFC 6962 appends each sibling after the deeper part of the path,
    # so the siblings collected top-down come out reversed.
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            path.append(range_hash(middle, end, get))
            end = middle
        else:
            path.append(range_hash(start, middle, get))
            start = middle
    path.reverse()
    return path


def consistency_proof(first: int, second: int, get: Getter) -> list[bytes]:
    """The RFC 6962 consistency proof PROOF(first, D[second])."""
    if not 0 < first <= second:
        raise ValueError(
            f"no consistency proof from {first} to {second} leaves: need 0 < first <= second"
        )
    # SUBPROOF walked top-down, as in inclusion_proof; `whole` is SUBPROOF's flag b, true while
    # the current subtree's hash is the old root itself, which the verifier already has.
    path: list[bytes] = []
    start, end, whole = 0, second, True
    while first != end:
        middle = start + _split(end - start)
        if first <= middle:
            path.append(range_hash(middle, end, get))
            end = middle
        else:
            path.append(range_hash(start, middle, get))
            start, whole = middle, False
    if not whole:
        path.append(range_hash(start, end, get))
    path.reverse()
    return path


_DUMMY_HASH = bytes(32)


def needed(fn: Callable[[Getter], object]) -> set[NodeKey]:
    """The node keys `fn` asks its getter for, found by running it against dummy hashes.

    Which nodes range_hash, root, inclusion_proof and consistency_proof read depends only on the
    sizes and indices, never on the hashes, so a caller can batch its reads:

        proof_of = lambda get: inclusion_proof(index, size, get)
        keys = needed(proof_of)
        nodes = load_nodes(keys)  # one query, e.g. WHERE (level, index) IN (...): {key: hash}
        proof = proof_of(lambda level, index: nodes[level, index])

    Level-0 keys are leaf hashes. The result of `fn` on dummy hashes is thrown away.
    """
    asked: set[NodeKey] = set()

    def record(level: int, index: int) -> bytes:
        asked.add((level, index))
        return _DUMMY_HASH

    fn(record)
    return asked
