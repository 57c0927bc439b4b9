"""The Merkle tree module against RFC 6962's own recursive definitions and published vectors."""

import hashlib
import random
from collections.abc import Callable, Sequence
from functools import cache

import pytest

from services.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    Getter,
    NodeKey,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    needed,
    node_hash,
    perfect_hash,
    range_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- An independent reference, written straight from RFC 6962 section 2.1 over all leaf data ---


def ref_leaf(d: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + d).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return ref_leaf(d[0])
    k = ref_k(n)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --- Fixtures: one log of unique leaves, stored the way a caller would store it ---

MAX = 1000
DATA = [f"event-{i}".encode() for i in range(MAX)]
SMALL = range(1, 71)
LARGE = sorted({*random.Random(6962).sample(range(71, MAX + 1), 8), 128, 512, 513, MAX})


@cache
def stored() -> dict[NodeKey, bytes]:
    """Every perfect node of the whole log: leaf hashes at level 0, then what append returned."""
    frontier = Frontier()
    leaves = [leaf_hash(d) for d in DATA]
    nodes: dict[NodeKey, bytes] = {(0, i): h for i, h in enumerate(leaves)}
    for level, index, digest in frontier.append(leaves):
        assert (level, index) not in nodes
        nodes[level, index] = digest
    return nodes


def getter(size: int, calls: list[NodeKey] | None = None) -> Getter:
    """A storage getter for the tree of `size` leaves, failing on nodes that tree lacks."""
    nodes = stored()

    def get(level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= size, f"node {(level, index)} is not complete at {size}"
        if calls is not None:
            calls.append((level, index))
        return nodes[level, index]

    return get


def dict_getter(nodes: dict[NodeKey, bytes]) -> Getter:
    """The getter a caller builds after one batch read of the keys needed() named."""
    return lambda level, index: nodes[level, index]


def call_bound(n: int) -> int:
    return 2 * n.bit_length() + 2


def sample(rng: random.Random, population: range, k: int) -> list[int]:
    return list(population) if len(population) <= k else rng.sample(population, k)


def flipped(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x10]) + h[1:]


# --- Known answers ---

# The RFC 6962 test vectors used by the Certificate Transparency implementations
# (github.com/transparency-dev/merkle, proof/verify_test.go and testonly).
KAT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243")] + [
    bytes.fromhex("5051525354555657"),
    bytes.fromhex("606162636465666768696a6b6c6d6e6f"),
]
KAT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# (leaf index, tree size, proof)
KAT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (first size, second size, proof)
KAT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def kat_getter() -> Getter:
    leaves = [leaf_hash(d) for d in KAT_LEAVES]
    nodes: dict[NodeKey, bytes] = {(0, i): h for i, h in enumerate(leaves)}
    nodes.update({(lv, ix): h for lv, ix, h in Frontier().append(leaves)})
    return dict_getter(nodes)


def test_hashes_match_the_certificate_transparency_known_answers() -> None:
    assert EMPTY_ROOT == KAT_ROOTS[0] == hashlib.sha256(b"").digest()
    assert EMPTY_ROOT.hex().startswith("e3b0c442") and EMPTY_ROOT.hex().endswith("b855")
    assert Frontier().root() == root(0, kat_getter()) == EMPTY_ROOT
    assert leaf_hash(b"") == KAT_ROOTS[1]
    assert node_hash(leaf_hash(KAT_LEAVES[0]), leaf_hash(KAT_LEAVES[1])) == KAT_ROOTS[2]
    get = kat_getter()
    for size in range(len(KAT_LEAVES) + 1):
        assert ref_mth(KAT_LEAVES[:size]) == KAT_ROOTS[size]
        assert root(size, get) == KAT_ROOTS[size]
        frontier = Frontier()
        frontier.append([leaf_hash(d) for d in KAT_LEAVES[:size]])
        assert frontier.root() == KAT_ROOTS[size]


def test_proofs_match_the_certificate_transparency_known_answers() -> None:
    get = kat_getter()
    for index, size, hexes in KAT_INCLUSION:
        proof = [bytes.fromhex(h) for h in hexes]
        assert inclusion_proof(index, size, get) == proof
        leaf = leaf_hash(KAT_LEAVES[index])
        assert verify_inclusion(leaf, index, size, proof, KAT_ROOTS[size])
    for first, second, hexes in KAT_CONSISTENCY:
        proof = [bytes.fromhex(h) for h in hexes]
        assert consistency_proof(first, second, get) == proof
        assert verify_consistency(first, second, KAT_ROOTS[first], KAT_ROOTS[second], proof)


# --- Building the tree ---


def batch_splits(n: int, rng: random.Random) -> list[list[int]]:
    """Ways to cut n leaves into append() calls: all at once, one by one, at random."""
    cuts = sorted(rng.sample(range(1, n), min(n - 1, 5))) if n > 1 else []
    randomly = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    return [[n], [1] * n, randomly, [0, n, 0]]


def test_frontier_root_matches_the_rfc_definition_whatever_the_batches() -> None:
    rng = random.Random(1)
    leaves = [leaf_hash(d) for d in DATA]
    for n in [*SMALL, *LARGE]:
        expected = ref_mth(DATA[:n])
        for split in batch_splits(n, rng):
            frontier, done = Frontier(), 0
            created: list[tuple[int, int, bytes]] = []
            for count in split:
                created += frontier.append(leaves[done : done + count])
                done += count
                assert frontier.size == done
                if n in SMALL or count != 1:
                    assert frontier.root() == ref_mth(DATA[:done])
            assert frontier.root() == expected
            # Whatever the batches, the same nodes, each once, children before parents.
            complete = {key for key in stored() if key[0] >= 1 and (key[1] + 1) << key[0] <= n}
            assert {(lv, ix) for lv, ix, _ in created} == complete
            assert len(created) == len(complete)
            for lv, ix, digest in created:
                assert lv >= 1
                assert digest == stored()[lv, ix]
            position = {(lv, ix): i for i, (lv, ix, _) in enumerate(created)}
            for lv, ix, _ in created:
                for child in (2 * ix, 2 * ix + 1):
                    if lv > 1:
                        assert position[lv - 1, child] < position[lv, ix]


def test_append_returns_every_complete_perfect_node_with_its_rfc_hash() -> None:
    nodes = stored()
    expected = {
        (level, index)
        for level in range(1, MAX.bit_length())
        for index in range(MAX >> level)  # only the subtrees whose leaves all exist
    }
    assert {key for key in nodes if key[0] >= 1} == expected
    for level, index in nodes:
        assert nodes[level, index] == ref_mth(DATA[index << level : (index + 1) << level])


def test_stored_nodes_reproduce_the_root_of_every_size() -> None:
    for n in [0, *SMALL, *LARGE]:
        calls: list[NodeKey] = []
        assert root(n, getter(n, calls)) == ref_mth(DATA[:n])
        assert len(calls) == n.bit_count()


def test_range_hash_of_every_rfc_subtree_matches_the_rfc_definition() -> None:
    for n in SMALL:
        for start in range(n):
            for end in range(start + 1, n + 1):
                if start % (1 << ((end - start).bit_length() - 1)) == 0:
                    assert range_hash(start, end, getter(n)) == ref_mth(DATA[start:end])
    assert range_hash(5, 5, getter(5)) == EMPTY_ROOT


def test_range_hash_refuses_ranges_that_are_not_subtrees() -> None:
    for start, end in [(1, 3), (2, 6), (4, 12), (3, 4 + 3)]:
        with pytest.raises(ValueError, match="not a subtree"):
            range_hash(start, end, getter(MAX))
    with pytest.raises(ValueError, match="not a range"):
        range_hash(4, 3, getter(MAX))


def test_frontier_rebuilt_from_stored_keys_matches_and_keeps_appending() -> None:
    nodes = stored()
    leaves = [leaf_hash(d) for d in DATA]
    rng = random.Random(2)
    for size in [0, *SMALL, *LARGE[:-1]]:
        keys = Frontier.keys(size)
        assert [lv for lv, _ in keys] == sorted(
            (lv for lv in range(size.bit_length()) if size >> lv & 1), reverse=True
        )
        frontier = Frontier(size, {lv: nodes[lv, ix] for lv, ix in keys})
        assert frontier.root() == ref_mth(DATA[:size])
        more = rng.randint(1, min(70, MAX - size))
        created = frontier.append(leaves[size : size + more])
        assert frontier.size == size + more
        assert frontier.root() == ref_mth(DATA[: size + more])
        assert all(nodes[lv, ix] == digest for lv, ix, digest in created)


def test_frontier_refuses_roots_that_do_not_fit_its_size() -> None:
    h = bytes(32)
    with pytest.raises(ValueError, match="frontier levels"):
        Frontier(3, {1: h})
    with pytest.raises(ValueError, match="frontier levels"):
        Frontier(0, {0: h})
    with pytest.raises(ValueError, match="negative"):
        Frontier(-1)
    assert Frontier.keys(0) == []
    assert Frontier.keys(13) == [(3, 0), (2, 2), (0, 12)]


# --- Proofs ---


def test_inclusion_proofs_match_the_rfc_definition() -> None:
    rng = random.Random(3)
    for n in [*SMALL, *LARGE]:
        for index in sample(rng, range(n), 70):
            calls: list[NodeKey] = []
            proof = inclusion_proof(index, n, getter(n, calls))
            assert proof == ref_path(index, DATA[:n]), (index, n)
            assert len(calls) <= call_bound(n)


def test_consistency_proofs_match_the_rfc_definition() -> None:
    rng = random.Random(4)
    for n in [*SMALL, *LARGE]:
        for first in sample(rng, range(1, n + 1), 70):
            calls: list[NodeKey] = []
            proof = consistency_proof(first, n, getter(n, calls))
            assert proof == ref_proof(first, DATA[:n]), (first, n)
            assert len(calls) <= call_bound(n)
    assert consistency_proof(7, 7, getter(7)) == []


def test_proofs_refuse_impossible_arguments() -> None:
    get = getter(MAX)
    for index, size in [(5, 5), (6, 5), (-1, 5), (0, 0)]:
        with pytest.raises(ValueError, match=f"leaf index {index} is not in a tree of {size}"):
            inclusion_proof(index, size, get)
    for first, second in [(0, 5), (-1, 5), (6, 5), (0, 0)]:
        with pytest.raises(ValueError, match="need 0 < first <= second"):
            consistency_proof(first, second, get)


# --- Verification ---


def test_verify_inclusion_accepts_real_proofs_and_rejects_tampering() -> None:
    rng = random.Random(5)
    for n in [*SMALL, *LARGE]:
        tree_root = ref_mth(DATA[:n])
        for index in sample(rng, range(n), 25):
            leaf = ref_leaf(DATA[index])
            proof = inclusion_proof(index, n, getter(n))
            assert verify_inclusion(leaf, index, n, proof, tree_root)

            assert not verify_inclusion(ref_leaf(b"forged"), index, n, proof, tree_root)
            assert not verify_inclusion(flipped(leaf), index, n, proof, tree_root)
            for other in {index - 1, index + 1, index ^ 1, index ^ 2, n, rng.randrange(n)}:
                if other != index:
                    assert not verify_inclusion(leaf, other, n, proof, tree_root), (index, other)
            for i in range(len(proof)):
                tampered = [*proof[:i], flipped(proof[i]), *proof[i + 1 :]]
                assert not verify_inclusion(leaf, index, n, tampered, tree_root)
            if proof:
                assert not verify_inclusion(leaf, index, n, proof[:-1], tree_root)
                assert not verify_inclusion(leaf, index, n, proof[1:], tree_root)
            assert not verify_inclusion(leaf, index, n, [*proof, tree_root], tree_root)
            assert not verify_inclusion(leaf, index, n, proof, flipped(tree_root))
            assert not verify_inclusion(leaf, index, n, proof, EMPTY_ROOT)


def test_verify_consistency_accepts_real_proofs_and_rejects_tampering() -> None:
    rng = random.Random(6)
    for n in [*SMALL, *LARGE]:
        second_root = ref_mth(DATA[:n])
        for first in sample(rng, range(1, n), 25):
            first_root = ref_mth(DATA[:first])
            proof = consistency_proof(first, n, getter(n))
            assert verify_consistency(first, n, first_root, second_root, proof)

            for i in range(len(proof)):
                tampered = [*proof[:i], flipped(proof[i]), *proof[i + 1 :]]
                assert not verify_consistency(first, n, first_root, second_root, tampered)
            assert not verify_consistency(first, n, first_root, second_root, proof[:-1])
            assert not verify_consistency(first, n, first_root, second_root, proof[1:])
            assert not verify_consistency(first, n, first_root, second_root, [*proof, proof[0]])
            assert not verify_consistency(first, n, first_root, second_root, [])
            assert not verify_consistency(first, n, flipped(first_root), second_root, proof)
            assert not verify_consistency(first, n, first_root, flipped(second_root), proof)
            assert not verify_consistency(first, n, second_root, first_root, proof)
            for other in (first - 1, first + 1):
                other_root = ref_mth(DATA[:other])
                assert not verify_consistency(other, n, first_root, second_root, proof)
                assert not verify_consistency(other, n, other_root, second_root, proof)
            # A proof from a different old tree does not vouch for this one.
            forged = [b"forged", *DATA[1:first]]
            assert not verify_consistency(first, n, ref_mth(forged), second_root, proof)


def test_verify_consistency_of_equal_and_empty_trees() -> None:
    r5 = ref_mth(DATA[:5])
    assert verify_consistency(5, 5, r5, r5, [])
    assert not verify_consistency(5, 5, r5, flipped(r5), [])
    assert not verify_consistency(5, 5, r5, r5, [r5])
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 5, r5, r5, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [r5])
    assert not verify_consistency(6, 5, r5, r5, [r5])
    assert not verify_consistency(-1, 5, EMPTY_ROOT, r5, [])


def test_verify_inclusion_of_the_only_leaf() -> None:
    leaf = ref_leaf(DATA[0])
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [leaf], leaf)
    assert not verify_inclusion(leaf, 1, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 0, [], leaf)
    assert not verify_inclusion(leaf, -1, 1, [], leaf)


# --- Reading only what is needed ---

BIG = 1_000_000


def fake_getter(size: int) -> Getter:
    def get(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, f"node {(level, index)} is not complete at {size}"
        return hashlib.sha256(f"{level}/{index}".encode()).digest()

    return get


def test_needed_nodes_are_few_and_complete_at_a_million_leaves() -> None:
    rng = random.Random(7)
    indices = [0, 1, 2, BIG // 2, BIG - 2, BIG - 1, BIG - 1, *rng.sample(range(BIG), 20)]
    firsts = [1, 2, 3, 2**19, 2**19 + 1, BIG - 1, BIG, *rng.sample(range(1, BIG), 20)]
    jobs = [job for i, m in zip(indices, firsts, strict=True) for job in proof_jobs(BIG, i, m)]
    for job in jobs:
        keys = needed(job)
        assert len(keys) <= call_bound(BIG)
        assert all((index + 1) << level <= BIG for level, index in keys)
        # The recorded keys are all a dict-backed getter needs, and give the same answer.
        get = fake_getter(BIG)
        nodes = {key: get(*key) for key in keys}
        assert job(dict_getter(nodes)) == job(get)


def proof_jobs(size: int, index: int, first: int) -> list[Callable[[Getter], object]]:
    return [
        lambda get: root(size, get),
        lambda get: inclusion_proof(index, size, get),
        lambda get: consistency_proof(first, size, get),
    ]


def test_needed_then_one_batch_read_gives_the_real_proofs() -> None:
    nodes = stored()
    for size, index, first in [(1, 0, 1), (777, 400, 512), (777, 776, 777), (777, 513, 300)]:
        for job in proof_jobs(size, index, first):
            batch = {key: nodes[key] for key in needed(job)}
            assert job(dict_getter(batch)) == job(getter(size))
    assert needed(lambda get: root(0, get)) == set()


def test_a_perfect_subtrees_hash_is_the_root_of_its_leaves() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(8)]
    frontier = Frontier()
    frontier.append(leaves)
    assert perfect_hash(leaves) == frontier.root()
    with pytest.raises(ValueError, match="2\\*\\*L"):
        perfect_hash(leaves[:6])
