"""Check a whole log over HTTP from its checkpoint and tiles alone (c2sp.org/tlog-tiles),
as any monitor would: the checkpoint's signature, every entry against its leaf hash,
every tile of every level against the level below, and the root against the
checkpoint. For the project's clients (``privacyctl log verify``) and the tests.

    async with httpx.AsyncClient(base_url="https://audit.example/") as client:
        result = await verify_log(client, parse_vkey(VKEY))

or from a shell (exit status 0 when everything matches, 1 at the first mismatch):

    python -m shared.tlog.monitor http://localhost:8003/ 'localhost/privacy-audit-log+…' \
        --token "$(make -s token ROLE=auditor)" [--witness 'witness.example/w1+…']
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx

from shared.tlog.hashes import leaf_hash
from shared.tlog.note import Checkpoint, NoteError, Verifier, open_checkpoint, parse_vkey
from shared.tlog.tiles import Tile, TreeHasher, bundles_of, split_hashes, tile_root, unbundle

CONCURRENCY = 8
"""Tiles fetched at once."""


class LogMismatch(Exception):
    """The log's tiles, bundles or checkpoint do not agree; the message says where."""


@dataclass
class Verified:
    """What was checked: the checkpoint, and how many entries and tiles."""

    checkpoint: Checkpoint
    entries: int = 0
    tiles: int = 0
    cosigned_by: list[str] = field(default_factory=list)


async def fetch(client: httpx.AsyncClient, path: str) -> bytes:
    response = await client.get(path)
    if response.status_code != 200:
        raise LogMismatch(f"GET {path}: {response.status_code} {response.text[:200]}")
    return response.content


async def _in_order(
    tiles: Sequence[Tile], get: Callable[[Tile], Awaitable[bytes]]
) -> Iterator[tuple[Tile, bytes]]:
    """The tiles' bodies, ``CONCURRENCY`` fetches at a time, in order."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(tile: Tile) -> bytes:
        async with limit:
            return await get(tile)

    bodies = await asyncio.gather(*(one(t) for t in tiles))
    return zip(tiles, bodies, strict=True)


async def verify_log(
    client: httpx.AsyncClient,
    log_key: Verifier,
    *,
    witnesses: Sequence[Verifier] = (),
    entries: bool = True,
    chunk: int = 256,
) -> Verified:
    """Check the log at ``client``'s base URL against its checkpoint signed by
    ``log_key``; with ``entries``, every entry bundle too. Raises :class:`LogMismatch`
    (or ``NoteError`` for the checkpoint) at the first disagreement."""
    note = await fetch(client, "checkpoint")
    checkpoint, verified = open_checkpoint(note, [log_key, *witnesses])
    result = Verified(checkpoint, cosigned_by=[v.name for v in verified if v != log_key])
    size = checkpoint.size
    get = lambda tile: fetch(client, tile.path)  # noqa: E731

    # Level 0: the leaf hashes, checked against the bundles and hashed into the root.
    hasher, parents = TreeHasher(), []
    level0 = [Tile(0, b.index, b.width) for b in bundles_of(size)]
    for at in range(0, len(level0), chunk):
        part = level0[at : at + chunk]
        hashed = await _in_order(part, get)
        bundles = (
            await _in_order([Tile(None, t.index, t.width) for t in part], get) if entries else None
        )
        for tile, data in hashed:
            leaves = split_hashes(data, tile.width)
            if bundles is not None:
                _, body = next(bundles)
                found = unbundle(body)
                if [leaf_hash(e) for e in found] != leaves:
                    raise LogMismatch(f"entry bundle {tile.index} does not hash to {tile.path}")
                result.entries += len(found)
            for leaf in leaves:
                hasher.add(leaf)
            if tile.full:
                parents.append(tile_root(leaves))
            result.tiles += 1
    if hasher.root() != checkpoint.root:
        raise LogMismatch(f"the leaves do not hash to the checkpoint's root ({size} entries)")

    # Each level above: its tiles are the roots of the full tiles below.
    level = 1
    while size >> (8 * level):
        count = size >> (8 * level)
        tiles = [Tile(level, i) for i in range(count // 256)]
        if count % 256:
            tiles.append(Tile(level, count // 256, count % 256))
        below, parents = parents, []
        for tile, data in await _in_order(tiles, get):
            hashes = split_hashes(data, tile.width)
            if hashes != below[tile.index * 256 : tile.index * 256 + tile.width]:
                raise LogMismatch(f"{tile.path} differs from the tiles of level {level - 1}")
            if tile.full:
                parents.append(tile_root(hashes))
            result.tiles += 1
        level += 1
    return result


async def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a tlog-tiles log over HTTP.")
    parser.add_argument("url", help="the log's URL prefix, e.g. http://localhost:8003/")
    parser.add_argument("vkey", help="the log's verifier key")
    parser.add_argument("--witness", action="append", default=[], help="a witness's key")
    parser.add_argument("--token", help="a bearer token, when the tiles are not public")
    parser.add_argument("--no-entries", action="store_true", help="tiles only, no bundles")
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    base = args.url if args.url.endswith("/") else args.url + "/"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        try:
            result = await verify_log(
                client,
                parse_vkey(args.vkey),
                witnesses=[parse_vkey(w) for w in args.witness],
                entries=not args.no_entries,
            )
        except (LogMismatch, NoteError) as exc:
            sys.stdout.write(json.dumps({"ok": False, "problem": str(exc)}) + "\n")
            return 1
    checkpoint = result.checkpoint
    report = {
        "ok": True,
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "entries": result.entries,
        "tiles": result.tiles,
        "cosigned_by": result.cosigned_by,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
