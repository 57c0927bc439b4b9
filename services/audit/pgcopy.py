"""The log's rows in PostgreSQL's binary COPY format, ready to send as they are.

A batch's rows are encoded when the batch is read (natively when ``audit_native`` is
installed, or by the functions below, which are the reference), so that the append
only frames them with their positions. Each row here is the fields after the leading
``seq``; :func:`copy_data` adds the header, the field count and the ``seq``.
See https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.4 for the format.
"""

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.audit.domain import Entry
from services.audit.fields import ENTRY_FIELDS, Kind

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NULL = struct.pack("!i", -1)
_TEXT_OID = 25


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode()
    return struct.pack("!i", len(data)) + data


def _bytes(data: bytes) -> bytes:
    return struct.pack("!i", len(data)) + data


def _time(value: datetime) -> bytes:
    return struct.pack("!iq", 8, (value - _PG_EPOCH) // _MICROSECOND)


def _texts(values: Sequence[str]) -> bytes:
    if not values:
        return _bytes(struct.pack("!iii", 0, 0, _TEXT_OID))
    array = struct.pack("!iiiii", 1, 0, _TEXT_OID, len(values), 1)
    return _bytes(array + b"".join(_text(v) for v in values))


def _uuid(value: str) -> bytes:
    return _bytes(bytes.fromhex(value.replace("-", "")))


def _int4(value: int | None) -> bytes:
    return _NULL if value is None else struct.pack("!ii", 4, value)


_WRITE: dict[Kind, Callable[[Any], bytes]] = {
    Kind.UUID: _uuid,
    Kind.TEXT: _text,
    Kind.TIME: _time,
    Kind.TEXTS: _texts,
    Kind.INT4: _int4,
    Kind.BYTES: _bytes,
}
_ROW = tuple((f.name, _WRITE[f.kind]) for f in ENTRY_FIELDS if f.kind is not None)


def entry_row(entry: Entry, leaf_hash: bytes) -> bytes:
    """``entries``' fields after ``seq``, in ``repository.ENTRY_COLUMNS`` order."""
    return b"".join((*(write(getattr(entry, name)) for name, write in _ROW), _bytes(leaf_hash)))


def personal_row(salt: bytes, subject_country: str | None) -> bytes:
    """``entry_personal``'s fields after ``seq``: the salt and the subject's country."""
    return _bytes(salt) + _text(subject_country)


def copy_data(first: int, rows: Sequence[bytes], fields: int) -> bytes:
    """A whole COPY BINARY stream: each row numbered from ``first`` (``fields`` counts
    the ``seq``)."""
    numbered = struct.Struct("!hiq")
    parts = [HEADER]
    for i, row in enumerate(rows):
        parts.append(numbered.pack(fields, 8, first + i))
        parts.append(row)
    parts.append(TRAILER)
    return b"".join(parts)


def node_data(nodes: Iterable[tuple[int, int, bytes]]) -> bytes:
    """A whole COPY BINARY stream of ``tree_nodes`` rows (level, idx, hash)."""
    row = struct.Struct("!hihiqi")
    return b"".join(
        (HEADER, *(row.pack(3, 2, level, 8, idx, 32) + hash for level, idx, hash in nodes), TRAILER)
    )
