"""Tiles as c2sp.org/tlog-tiles spells and sizes them."""

import pytest

from shared.tlog.hashes import leaf_hash
from shared.tlog.tiles import (
    Tile,
    TileError,
    TreeHasher,
    bundle,
    bundles_of,
    encode_index,
    parse_path,
    tile_root,
    tiles_of,
    unbundle,
)


@pytest.mark.parametrize(
    ("index", "encoded"),
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_an_index_is_encoded_as_the_spec_says(index: int, encoded: str) -> None:
    assert encode_index(index) == encoded


@pytest.mark.parametrize(
    ("path", "tile"),
    [
        ("0/x001/x234/067", Tile(0, 1234067)),
        ("2/000.p/1", Tile(2, 0, 1)),
        ("entries/007.p/5", Tile(None, 7, 5)),
        ("entries/x001/000", Tile(None, 1000)),
    ],
)
def test_a_tile_path_parses_and_spells_back(path: str, tile: Tile) -> None:
    assert parse_path(path) == tile
    assert tile.path == f"tile/{path}"


@pytest.mark.parametrize(
    "path",
    [
        "00/000",
        "64/000",
        "0/1",
        "0/0001",
        "0/001/002",
        "0/x000/002",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/07",
        "0/000.p/",
        "x/000",
        "0/x001",
    ],
)
def test_a_path_spelled_otherwise_is_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_path(path)


def test_a_tree_of_70000_has_the_tiles_the_spec_lists() -> None:
    tiles = list(tiles_of(70_000))
    level0 = [t for t in tiles if t.level == 0]
    assert len([t for t in level0 if t.full]) == 273
    assert [t.width for t in level0 if not t.full] == [112]
    assert [(t.index, t.width) for t in tiles if t.level == 1] == [(0, 256), (1, 17)]
    assert [(t.index, t.width) for t in tiles if t.level == 2] == [(0, 1)]
    assert [(t.level, t.width) for t in tiles_of(256)] == [(0, 256), (1, 1)]
    assert list(bundles_of(300)) == [Tile(None, 0), Tile(None, 1, 44)]


def test_a_tile_is_needed_only_once_the_tree_holds_all_of_it() -> None:
    assert Tile(0, 0).needs(256) and not Tile(0, 0).needs(255)
    assert Tile(1, 0, 17).needs(17 * 256) and not Tile(1, 0, 17).needs(17 * 256 - 1)


def test_a_bundle_is_uint16_length_prefixed_entries() -> None:
    entries = [b"", b"a", b"x" * 300]
    data = bundle(entries)
    assert data[:2] == b"\x00\x00" and data[2:5] == b"\x00\x01a" and data[5:7] == b"\x01\x2c"
    assert unbundle(data) == entries
    with pytest.raises(TileError):
        unbundle(data[:-1])
    with pytest.raises(TileError):
        bundle([b"x" * 65536])


def test_the_root_of_full_tiles_is_the_tree_root() -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(256 * 256)]
    hasher = TreeHasher()
    for leaf in leaves:
        hasher.add(leaf)
    level1 = [tile_root(leaves[i : i + 256]) for i in range(0, len(leaves), 256)]
    assert tile_root(level1) == hasher.root()
