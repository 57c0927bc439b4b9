from collections.abc import Sequence

def prepare(
    values: Sequence[bytes], recorded_at: int, salts: bytes
) -> tuple[list[int], list[str], list[bytes], list[bytes], list[bytes]]:
    """Read a batch of ``data.accessed`` records: the indexes left to Python, then for
    the others, in order, event ids, leaf hashes, ``entries`` rows and
    ``entry_personal`` rows (COPY BINARY fields after the seq). ``recorded_at`` is in
    microseconds since 1970 (UTC); ``salts`` holds 16 bytes for each record."""

def grow(
    size: int, roots: dict[int, bytes], leaves: Sequence[bytes], lowest: int
) -> tuple[dict[int, bytes], bytes]:
    """Grow the right edge of a tree of ``size`` leaves (``roots``: level to hash) by
    ``leaves``: the new edge, and the perfect nodes completed from level ``lowest`` up,
    as a COPY BINARY stream of ``tree_nodes`` rows (level, idx, hash)."""
