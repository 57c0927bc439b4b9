"""One table of a disclosure's fields (``services.audit.fields``) and everything that
must agree with it: the contract, the entry and its leaf, the database's columns, the
API's model, and the native reader's rows. A field added in one place and not another
fails here, naming the place."""

import json
import struct
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import fields, ingestion, records, repository
from services.audit.domain import Entry
from services.audit.models import Disclosure
from shared.events import DataAccessedPayload
from tests.services.audit.test_audit_records import valid

NAMES = [f.name for f in fields.FIELDS]
ENTRY_NAMES = [f.name for f in fields.ENTRY_FIELDS]


def test_every_field_of_the_contract_is_in_the_table() -> None:
    missing = set(DataAccessedPayload.model_fields) - set(NAMES)
    assert not missing, f"add {sorted(missing)} to services/audit/fields.py"


def test_the_entry_has_the_tables_entry_fields_in_order() -> None:
    assert list(Entry.__struct_fields__) == ENTRY_NAMES, "domain.Entry"


def test_the_leaf_commits_to_every_entry_field() -> None:
    event = records.decode(json.dumps(valid()).encode())
    entry = ingestion.to_entry(event, datetime.now(UTC), bytes(16))
    assert sorted(json.loads(entry.leaf())) == sorted(ENTRY_NAMES), "domain.Entry.leaf"


def test_the_api_shows_the_tables_shown_fields_in_order() -> None:
    assert list(Disclosure.model_fields) == list(fields.SHOWN), "models.Disclosure"


@pytest.mark.integration
async def test_the_database_has_the_tables_columns_in_order(audit_engine: AsyncEngine) -> None:
    types = {
        fields.Kind.UUID: {"uuid"},
        fields.Kind.TEXT: {"text", "bpchar"},
        fields.Kind.TIME: {"timestamptz"},
        fields.Kind.TEXTS: {"_text"},
        fields.Kind.INT4: {"int4"},
        fields.Kind.BYTES: {"bytea"},
    }
    async with audit_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT column_name, udt_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'entries' "
                "ORDER BY ordinal_position"
            )
        )
        columns = [(name, udt) for name, udt in rows]
    assert [name for name, _ in columns] == list(repository.ENTRY_COLUMNS), "a migration"
    by_name = dict(columns)
    for field in fields.ENTRY_FIELDS:
        assert field.kind is not None
        assert by_name[field.name] in types[field.kind], field.name


def copy_fields(row: bytes) -> list[bytes | None]:
    """A binary COPY row (after its seq) split into its fields."""
    out: list[bytes | None] = []
    at = 0
    while at < len(row):
        (length,) = struct.unpack_from("!i", row, at)
        at += 4
        out.append(None if length < 0 else row[at : at + length])
        at += max(length, 0)
    return out


def test_the_native_rows_hold_the_tables_fields_in_order() -> None:
    audit_native = pytest.importorskip("audit_native")
    value = json.dumps(valid()).encode()
    left, _, _, native_rows, _ = audit_native.prepare([value], 0, bytes(16))
    assert left == []
    python_rows = ingestion.read([value], native=False).ready.rows
    native, python = copy_fields(native_rows[0]), copy_fields(python_rows[0])
    assert len(native) == len(ENTRY_NAMES) + 1, "native/src/lib.rs: a field is missing"
    for name, mine, theirs in zip([*ENTRY_NAMES, "leaf_hash"], native, python, strict=True):
        if name not in ("recorded_at", "personal_digest", "leaf_hash"):  # time and salt differ
            assert mine == theirs, f"native/src/lib.rs writes {name} differently"
