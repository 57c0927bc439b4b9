"""The log as tiles (c2sp.org/tlog-tiles): paths, which tiles a tree of a given size is
made of, entry bundles, and the hashes a tile of the level above is made of.

A tile is 256 consecutive hashes of one tree level: at tile level ``L`` the nodes of
tree level ``8 * L``, each the root of a perfect subtree of ``256**L`` leaves; tile
``N`` of level ``L`` holds nodes ``256 * N`` to ``256 * N + 255``. A partial tile (the
right edge) holds fewer, 1 to 255: for a tree of ``s`` leaves, ``(s >> 8 * L) % 256``.
"""

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from shared.tlog.hashes import EMPTY_ROOT, leaf_hash, node_hash

HEIGHT = 8
WIDTH = 1 << HEIGHT
"""Hashes in a full tile (and entries in a full bundle)."""
HASH_SIZE = 32
MAX_ENTRY = 0xFFFF
"""An entry in a bundle is prefixed with its length as a big-endian uint16."""


class TileError(ValueError):
    """A tile path, tile or bundle that is malformed."""


@dataclass(frozen=True)
class Tile:
    """A tile of hashes (``level`` >= 0) or an entry bundle (``level`` None): its index
    in its level and its width (256 for a full one)."""

    level: int | None
    index: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    @property
    def tree_level(self) -> int:
        """The tree level of the hashes it holds (0: leaf hashes; bundles: entries)."""
        return HEIGHT * (self.level or 0)

    @property
    def nodes(self) -> range:
        """The indices, in their tree level, of the nodes (or entries) it holds."""
        return range(self.index * WIDTH, self.index * WIDTH + self.width)

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        level = "entries" if self.level is None else str(self.level)
        partial = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{partial}"

    def needs(self, size: int) -> bool:
        """Whether a tree of ``size`` leaves holds every node of this tile."""
        return self.nodes.stop << self.tree_level <= size


def encode_index(index: int) -> str:
    """An index as zero-padded 3-digit path elements, all but the last with an ``x``:
    1234067 is ``x001/x234/067``."""
    if index < 0:
        raise TileError(f"a tile index is not negative, got {index}")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if not index:
            break
    groups.reverse()
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def parse_path(path: str) -> Tile:
    """A tile from its path after ``tile/``: ``<L>/<N>[.p/<W>]`` or ``entries/...``."""
    level_part, _, rest = path.partition("/")
    if level_part == "entries":
        level: int | None = None
    elif level_part.isdigit() and level_part.isascii() and str(int(level_part)) == level_part:
        level = int(level_part)
        if level > 63:
            raise TileError(f"tile level {level}: at most 63")
    else:
        raise TileError(f"tile level {level_part!r}: a decimal without leading zeroes")
    width = WIDTH
    index_part, dot, width_part = rest.partition(".p/")
    if dot:
        if not (width_part.isdigit() and width_part.isascii() and width_part[0] != "0"):
            raise TileError(f"partial width {width_part!r}: 1 to 255, no leading zeroes")
        width = int(width_part)
        if not 1 <= width < WIDTH:
            raise TileError(f"partial width {width}: 1 to 255")
    elements = index_part.split("/")
    index = 0
    for position, element in enumerate(elements):
        digits = element[1:] if position < len(elements) - 1 else element
        if position < len(elements) - 1 and not element.startswith("x"):
            raise TileError(f"tile index {index_part!r}: all but the last element begin with x")
        if len(digits) != 3 or not digits.isdigit() or not digits.isascii():
            raise TileError(f"tile index {index_part!r}: 3-digit elements")
        index = index * 1000 + int(digits)
    if len(elements) > 1 and elements[0] == "x000":
        raise TileError(f"tile index {index_part!r}: no leading zero elements")
    if index.bit_length() > 63:
        raise TileError(f"tile index {index_part!r}: too large")
    tile = Tile(level, index, width)
    if tile.path != f"tile/{path}":
        raise TileError(f"tile path {path!r} is not spelled as the spec spells it")
    return tile


def tiles_of(size: int) -> Iterator[Tile]:
    """Every hash tile of a tree of ``size`` leaves, level by level, full then partial."""
    level = 0
    while True:
        count = size >> (HEIGHT * level)  # nodes of this tile level's tree level
        if count == 0:
            return
        for index in range(count // WIDTH):
            yield Tile(level, index)
        if count % WIDTH:
            yield Tile(level, count // WIDTH, count % WIDTH)
        level += 1


def bundles_of(size: int) -> Iterator[Tile]:
    """Every entry bundle of a tree of ``size`` leaves, full then the partial one."""
    for index in range(size // WIDTH):
        yield Tile(None, index)
    if size % WIDTH:
        yield Tile(None, size // WIDTH, size % WIDTH)


def tile_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a full tile's 256 hashes: one node of the tile level above."""
    if len(hashes) != WIDTH:
        raise TileError(f"only a full tile has a parent node, this one has {len(hashes)}")
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[k], level[k + 1]) for k in range(0, len(level), 2)]
    return level[0]


def split_hashes(data: bytes, width: int) -> list[bytes]:
    """A tile's bytes as its ``width`` hashes."""
    if len(data) != width * HASH_SIZE:
        raise TileError(f"a tile of width {width} is {width * HASH_SIZE} bytes, got {len(data)}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a bundle: each prefixed with its length, a big-endian uint16."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise TileError(f"an entry of {len(entry)} bytes does not fit a bundle")
        parts.append(struct.pack(">H", len(entry)))
        parts.append(entry)
    return b"".join(parts)


def unbundle(data: bytes) -> list[bytes]:
    """A bundle's entries."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileError("a bundle ends inside an entry's length")
        (length,) = struct.unpack_from(">H", data, at)
        if at + 2 + length > len(data):
            raise TileError("a bundle ends inside an entry")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries


class TreeHasher:
    """Builds a tree's root from its leaf hashes in order (the right edge only)."""

    def __init__(self) -> None:
        self.size = 0
        self._edge: list[tuple[int, bytes]] = []  # (height, hash), larger subtrees first

    def add(self, leaf: bytes) -> None:
        height, current = 0, leaf
        while self._edge and self._edge[-1][0] == height:
            current = node_hash(self._edge.pop()[1], current)
            height += 1
        self._edge.append((height, current))
        self.size += 1

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        result = self._edge[-1][1]
        for _, piece in reversed(self._edge[:-1]):
            result = node_hash(piece, result)
        return result


__all__ = [
    "HASH_SIZE",
    "HEIGHT",
    "MAX_ENTRY",
    "WIDTH",
    "Tile",
    "TileError",
    "TreeHasher",
    "bundle",
    "bundles_of",
    "encode_index",
    "leaf_hash",
    "parse_path",
    "split_hashes",
    "tile_root",
    "tiles_of",
    "unbundle",
]
