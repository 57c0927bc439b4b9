"""The log served as tiles (c2sp.org/tlog-tiles), and read in bulk.

Tiles are read from the stored tree itself, the nodes proofs are made of: level 0 from
the entries' leaf hashes, level ``L`` from the stored nodes of tree level ``8 * L``
(stored from ``repository.LOWEST_STORED_LEVEL`` = 4 up), so a tile can never disagree
with a proof. Only what a signed tree head covers is served: a tile or bundle beyond
the newest signed size is not found. A full tile never changes; a partial one is a
prefix of the full one it grows into.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cachetools import LRUCache

from services.audit import log_store
from services.audit.exceptions import InvalidRequest, NotFound
from shared.db import Sessions
from shared.tlog.tiles import WIDTH, Tile, TileError, bundle, parse_path

BULK_MAX = 100_000
"""Entries one bulk read may ask for."""
BULK_BATCH = 5_000
"""Entries a bulk read reads from the database at a time."""
READ_AHEAD = 8
"""Full bundles read in one query (an aligned group: 2,048 entries, about 1.3 MB)."""
FULL_TILES_BYTES = 64 << 20
"""Bytes of full tiles a process keeps (a bundle of 256 entries is about 150 KB; a hash
tile 8 KB): the last 400-odd bundles, or every hash tile of 8 million entries."""


def parse(path: str) -> Tile:
    """A tile path after ``/tile/``; one the spec does not spell so is not found."""
    try:
        return parse_path(path)
    except TileError as exc:
        raise NotFound(str(exc), field="tile_path") from exc


@dataclass
class SignedSize:
    """The largest signed size this process has seen: sizes only grow, and a tile a
    signed head covered stays covered, so only a tile beyond it makes a query."""

    size: int = 0


class FullTiles:
    """The bytes of full tiles and bundles already read, up to ``limit`` bytes, the least
    recently read dropped first: a full tile never changes, so a second read of it (a
    monitor's, a cache's filling) needs no query. Full bundles are read ``READ_AHEAD`` at
    a time, an aligned group in one query, since a monitor reads them in order: the next
    ones are then answered from here."""

    def __init__(self, limit: int = FULL_TILES_BYTES) -> None:
        self._kept: LRUCache[str, bytes] = LRUCache(maxsize=limit, getsizeof=len)
        self.reading: dict[int, asyncio.Future[None]] = {}
        """Groups of bundles being read, so requests at once for a group share one query."""

    def get(self, tile: Tile) -> bytes | None:
        """The tile's bytes, if kept."""
        return self._kept.get(tile.path)

    def keep(self, tile: Tile, data: bytes) -> None:
        """Keep a full tile's bytes (a partial one grows, so it is not kept)."""
        if tile.full and len(data) <= self._kept.maxsize:
            self._kept[tile.path] = data


async def read(
    sessions: Sessions, tile: Tile, signed: SignedSize, kept: FullTiles | None = None
) -> bytes:
    """A hash tile's bytes or an entry bundle's, if a signed head covers it."""
    if kept is None:
        return await _read(sessions, tile, signed)
    if (data := kept.get(tile)) is not None:
        return data  # once covered by a signed head, always covered
    if tile.level is None and tile.full:
        await _read_group(sessions, tile.index // READ_AHEAD, signed, kept)
        if (data := kept.get(tile)) is not None:
            return data
    data = await _read(sessions, tile, signed)  # not covered (404), or no longer kept
    kept.keep(tile, data)
    return data


async def _read_group(sessions: Sessions, group: int, signed: SignedSize, kept: FullTiles) -> None:
    """Read the group's full bundles that a signed head covers, in one query, and keep
    them; a read of the same group already under way is waited for instead."""
    pending = kept.reading.get(group)
    if pending is None:
        pending = asyncio.ensure_future(_read_bundles(sessions, group, signed, kept))
        kept.reading[group] = pending
        pending.add_done_callback(lambda _: kept.reading.pop(group, None))
    await asyncio.shield(pending)


async def _read_bundles(
    sessions: Sessions, group: int, signed: SignedSize, kept: FullTiles
) -> None:
    first, stop = group * READ_AHEAD, (group + 1) * READ_AHEAD
    async with sessions() as session:
        if signed.size < stop * WIDTH:
            signed.size = max(signed.size, await log_store.signed_size(session))
        last = min(stop, signed.size // WIDTH)
        if last <= first:
            return  # not covered: the bundle's own read answers it is not found
        found = await log_store.leaf_data(session, first * WIDTH, last * WIDTH)
    if len(found) != (last - first) * WIDTH:  # signed, yet not stored: the log lost something
        raise RuntimeError(f"bundles {first} to {last - 1}: {len(found)} entries stored")
    for index in range(first, last):
        at = (index - first) * WIDTH
        kept.keep(Tile(None, index), bundle(found[at : at + WIDTH]))


async def _read(sessions: Sessions, tile: Tile, signed: SignedSize) -> bytes:
    async with sessions() as session:
        if not tile.needs(signed.size):
            signed.size = max(signed.size, await log_store.signed_size(session))
        if not tile.needs(signed.size):
            raise NotFound(
                f"{tile.path} is beyond the newest checkpoint ({signed.size} entries)",
                field="tile_path",
            )
        start, end = tile.nodes.start, tile.nodes.stop
        if tile.level is None:
            found = await log_store.leaf_data(session, start, end)
        elif tile.level == 0:
            found = await log_store.leaf_hashes(session, start, end)
        else:
            found = await log_store.level_hashes(session, tile.tree_level, start, end)
    if len(found) != tile.width:  # signed, yet not stored: the log lost something
        raise RuntimeError(f"{tile.path}: {len(found)} of {tile.width} stored")
    return bundle(found) if tile.level is None else b"".join(found)


async def entries(sessions: Sessions, start: int, end: int) -> AsyncIterator[bytes]:
    """Entries ``start`` to ``end`` (excluded, or the log's end) as JSON lines, each line
    exactly an entry's leaf data. The first batch is read before this returns: a query
    that fails does so before an answer has begun."""
    if end <= start or end - start > BULK_MAX:
        raise InvalidRequest(f"end: 1 to {BULK_MAX:,} entries after start", field="end")
    batches = log_store.leaf_line_batches(sessions, start, end, batch=BULK_BATCH)
    first = await anext(batches, None)

    async def lines() -> AsyncIterator[bytes]:
        if first is None:
            return
        yield first
        async for more in batches:
            yield more

    return lines()
