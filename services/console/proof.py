"""An entry's inclusion in the signed log, checked here step by step: nothing the audit
service says about hashes is taken on trust, only the signed head and the key.

The steps are those of ``privacyctl log proof`` (and the client's ``client.log``, which
does the hashing): the head's signature against the key, the entry's data re-hashed into
its leaf, the audit path from that leaf up to a root, that root against the signed one.
"""

import base64
import binascii
from dataclasses import dataclass, field

from client.log import head_signed, leaf_hash, node_hash, proof_ranges
from client.models.audit import EntryOut, InclusionProof, PublicKey, TreeHead


@dataclass(frozen=True)
class Step:
    """One step of the check: what was checked, whether it held, the values it used."""

    title: str
    ok: bool
    detail: str
    values: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """The whole check: every step, and the sentence that sums it up."""

    seq: int
    steps: list[Step]

    @property
    def ok(self) -> bool:
        """Every step held."""
        return all(step.ok for step in self.steps)

    @property
    def summary(self) -> str:
        """One sentence naming the entry."""
        if self.ok:
            return f"Entry {self.seq} is in the signed log: every step checks out."
        failed = next(step for step in self.steps if not step.ok)
        return f"Entry {self.seq} does NOT check out: the step “{failed.title}” failed."


def _hex(data: bytes) -> str:
    return data.hex()


def check(
    entry: EntryOut,
    head: TreeHead,
    key: PublicKey,
    proof: InclusionProof,
    *,
    key_source: str,
) -> Verdict:
    """Check ``entry`` against the signed ``head`` with ``proof``, step by step."""
    seq = entry.seq
    steps: list[Step] = []
    signed = head_signed(head, key)
    steps.append(
        Step(
            "The tree head's signature",
            signed,
            f"The head of {head.tree_size} entries, signed at {head.signed_at:%Y-%m-%d %H:%M:%S} "
            f"UTC, {'verifies' if signed else 'does NOT verify'} with the Ed25519 key "
            f"{key.key_id} ({key_source}).",
            [("root hash", _hex(base64.b64decode(head.root_hash))), ("key", key.public_key)],
        )
    )
    try:
        data = base64.b64decode(entry.leaf_data, validate=True)
    except binascii.Error:
        data = b""
    leaf = leaf_hash(data)
    stored_leaf = base64.b64decode(proof.leaf_hash)
    same_leaf = leaf == stored_leaf
    steps.append(
        Step(
            "The entry re-hashed",
            same_leaf,
            "SHA-256(0x00 ‖ the entry's data) computed here "
            + (
                "equals the leaf the log holds."
                if same_leaf
                else "differs from the leaf the log signed: the entry's data was changed "
                "after it was logged."
            ),
            [
                ("leaf data", data.decode("utf-8", "replace")),
                ("leaf hash here", _hex(leaf)),
                ("leaf hash in the log", _hex(stored_leaf)),
            ],
        )
    )
    path = [base64.b64decode(p) for p in proof.audit_path]
    ranges = proof_ranges(seq, head.tree_size) if seq < head.tree_size else []
    node, walk, fits = leaf, [], len(ranges) == len(path)
    for (lo, hi), sibling in zip(ranges, path, strict=False):
        left = hi <= seq
        node = node_hash(sibling, node) if left else node_hash(node, sibling)
        side = "left" if left else "right"
        walk.append((f"with entries {lo} to {hi - 1} on the {side}", _hex(node)))
    root = base64.b64decode(head.root_hash)
    reaches = fits and node == root
    steps.append(
        Step(
            "The audit path up to the root",
            reaches,
            f"{len(path)} sibling hashes from the service, combined here with the leaf "
            f"re-hashed from the entry: the root computed "
            + ("equals the signed root." if reaches else "does NOT equal the signed root."),
            [*walk, ("root computed", _hex(node)), ("root signed", _hex(root))],
        )
    )
    return Verdict(seq, steps)
