"""The database roles: an operator with a service's credentials cannot tamper with the log.

The audit service is started for real (its migrations run as the owner, its role gets its
grants); then each statement is tried as the audit service's own role, with the URL its
settings use. Pointed at a superuser (``AUDIT_DATABASE_URL=<superuser URL>``) these tests
fail, which is what they are for.
"""

from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import asyncpg
import pytest
from fastapi import FastAPI

from services.audit.config import AuditSettings
from services.audit.main import build_app as build_audit
from services.breach.config import BreachSettings
from services.consent.config import ConsentSettings
from services.consent.main import MIGRATIONS as CONSENT_MIGRATIONS
from services.notifier.config import NotifierSettings
from services.registry.config import RegistrySettings
from shared.db import asyncpg_dsn, create_engine, migrate_service
from shared.settings import APPEND_ONLY, TABLE_DEFAULT, ServiceSettings
from tests.support import unique

pytestmark = pytest.mark.integration

SERVICES: list[type[ServiceSettings]] = [
    RegistrySettings,
    ConsentSettings,
    AuditSettings,
    BreachSettings,
    NotifierSettings,
]
LOG_TABLES = [
    "entries",
    "tree_nodes",
    "tree_heads",
    "consent_changes",
    "checks",
    "erasures",
    "checkpoint_cosignatures",
]
PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
TAMPERING = {
    "disable trigger": ("ALTER TABLE {t} DISABLE TRIGGER ALL", "must be owner"),
    "alter": ("ALTER TABLE {t} ADD COLUMN forged text", "must be owner"),
    "drop": ("DROP TABLE {t}", "must be owner"),
    "update": ("UPDATE {t} SET {c} = {c}", "permission denied for table"),
    "delete": ("DELETE FROM {t}", "permission denied for table"),
    "truncate": ("TRUNCATE {t} CASCADE", "permission denied for table"),
}
FIRST_COLUMN = {
    "entries": "seq",
    "tree_nodes": "level",
    "tree_heads": "tree_size",
    "consent_changes": "consent_id",
    "checks": "seq",
    "erasures": "user_id",
    "entry_personal": "seq",
    "checkpoint_cosignatures": "tree_size",
}
ROWS = {  # one valid row per table, as the service writes them
    "entries": "INSERT INTO entries VALUES (1000000, gen_random_uuid(), 'p', now(), now(),"
    " 'org', 'FR', 'actor', 'user-1', '{email_address}', 'marketing', 'consent', null,"
    " 'api', 'allow', null, null, null, null, '\\x00', '\\x00')",
    "entry_personal": "INSERT INTO entry_personal VALUES (1000000, '\\x00', 'FR')",
    "tree_nodes": "INSERT INTO tree_nodes VALUES (4, 1000000, '\\x00')",
    "tree_heads": "INSERT INTO tree_heads VALUES (1000000, '\\x00', now(), '\\x00', 'k')",
    "consent_changes": "INSERT INTO consent_changes VALUES (gen_random_uuid()::text, 1,"
    " 'granted', 'user-1', 'm', null, null, now(), null)",
    "checks": "INSERT INTO checks VALUES (1000000, 'valid', 'ok', now())",
    "erasures": "INSERT INTO erasures VALUES (gen_random_uuid()::text, now())",
    # after tree_heads: a cosignature is of a signed head
    "checkpoint_cosignatures": "INSERT INTO checkpoint_cosignatures VALUES (1000000,"
    " 'witness.example/w1', '\u2014 witness.example/w1 AAAA', now())",
}


def role_url(settings_cls: type[ServiceSettings]) -> str:
    """The URL the service connects with (its settings' default, or the environment's)."""
    return settings_cls().database_url


def owner_url() -> str:
    return AuditSettings().migration_database_url


async def connect(url: str, schema: str = "public") -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(url), server_settings={"search_path": schema})


async def drop_schemas(*schemas: str) -> None:
    conn = await connect(owner_url())
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def audit_schema() -> AsyncIterator[str]:
    """A schema the real audit service migrated (through create_app) and then stopped."""
    schema = unique("t_roles_audit")
    app: FastAPI = build_audit(
        AuditSettings(db_schema=schema, log_json=True, topic_prefix=f"{schema}.")
    )
    try:
        async with app.router.lifespan_context(app):
            pass
        yield schema
    finally:
        await drop_schemas(schema)


@pytest.fixture(scope="module")
async def consent_schema() -> AsyncIterator[str]:
    """A schema migrated for the consent service, its role granted what it needs."""
    schema = unique("t_roles_consent")
    settings = ConsentSettings(db_schema=schema)
    engine = create_engine(settings.database_url, schema, pool_size=1)
    try:
        await migrate_service(engine, CONSENT_MIGRATIONS, settings)
        yield schema
    finally:
        await engine.dispose()
        await drop_schemas(schema)


@pytest.fixture
async def as_audit(audit_schema: str) -> AsyncIterator[asyncpg.Connection]:
    """The audit service's role, in its schema."""
    conn = await connect(role_url(AuditSettings), audit_schema)
    yield conn
    await conn.close()


async def refused(conn: asyncpg.Connection, statement: str) -> str:
    """The error ``statement`` gets (in a transaction rolled back either way), or ''."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(statement)
    except asyncpg.PostgresError as exc:
        return str(exc)
    finally:
        await transaction.rollback()
    return ""


@pytest.mark.parametrize("table", LOG_TABLES)
@pytest.mark.parametrize("attempt", sorted(TAMPERING))
async def test_the_audit_role_cannot_tamper_with_the_log(
    as_audit: asyncpg.Connection, table: str, attempt: str
) -> None:
    statement, expected = TAMPERING[attempt]
    error = await refused(as_audit, statement.format(t=table, c=FIRST_COLUMN[table]))
    # The privilege check, not the append-only trigger (whose message differs), refuses it.
    assert expected in error, f"{attempt} on {table}: {error or 'it succeeded'}"


async def test_the_audit_role_appends_and_reads_the_log(as_audit: asyncpg.Connection) -> None:
    transaction = as_audit.transaction()
    await transaction.start()
    try:
        # the service may have logged other tests' events while it ran: count what is added
        before = {t: await as_audit.fetchval(f"SELECT count(*) FROM {t}") for t in ROWS}
        for row in ROWS.values():
            await as_audit.execute(row)
        after = {t: await as_audit.fetchval(f"SELECT count(*) FROM {t}") for t in ROWS}
        # erasure deletes the personal part: the one log table the role may delete from
        erased = await as_audit.execute("DELETE FROM entry_personal WHERE seq = 1000000")
    finally:
        await transaction.rollback()
    assert {t: after[t] - before[t] for t in ROWS} == dict.fromkeys(ROWS, 1)
    assert erased == "DELETE 1"


async def test_the_personal_part_can_be_erased_but_not_changed(
    as_audit: asyncpg.Connection,
) -> None:
    update = await refused(as_audit, "UPDATE entry_personal SET salt = salt")
    truncate = await refused(as_audit, "TRUNCATE entry_personal")
    assert "permission denied for table" in update
    assert "permission denied for table" in truncate


async def test_each_table_grants_exactly_what_the_service_declares(
    audit_schema: str, consent_schema: str
) -> None:
    for settings_cls, schema in ((AuditSettings, audit_schema), (ConsentSettings, consent_schema)):
        conn = await connect(role_url(settings_cls), schema)
        try:
            rows = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema
            )
            granted = {}
            for (table,) in rows:
                held = await conn.fetch(
                    "SELECT p FROM unnest($2::text[]) WITH ORDINALITY AS u (p, i) "
                    "WHERE has_table_privilege(current_user, $1, p) ORDER BY i",
                    f'"{schema}"."{table}"',
                    PRIVILEGES,
                )
                granted[table] = tuple(r[0] for r in held)
        finally:
            await conn.close()
        declared = settings_cls.table_privileges
        expected = {
            t: ("SELECT",) if t == "alembic_version" else tuple(declared.get(t, TABLE_DEFAULT))
            for t in granted
        }
        assert granted == expected, settings_cls.service_name


async def test_the_append_only_triggers_and_the_grants_agree(
    audit_schema: str, consent_schema: str
) -> None:
    """Whatever a trigger refuses on a table, the service's role is not granted either."""
    owner = await connect(owner_url())
    try:
        rows = await owner.fetch(
            "SELECT n.nspname, c.relname, t.tgtype FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE n.nspname = ANY($1) AND p.proname LIKE '%append_only' AND NOT t.tgisinternal",
            [audit_schema, consent_schema],
        )
    finally:
        await owner.close()
    bits = {"DELETE": 8, "UPDATE": 16, "TRUNCATE": 32}  # pg_trigger.tgtype
    refused_by_trigger: dict[tuple[str, str], set[str]] = {}
    for schema, table, tgtype in rows:
        refused_by_trigger.setdefault((schema, table), set()).update(
            k for k, bit in bits.items() if tgtype & bit
        )
    assert {t for s, t in refused_by_trigger if s == audit_schema} >= set(LOG_TABLES) - {"erasures"}
    settings_of: dict[str, type[ServiceSettings]] = {
        audit_schema: AuditSettings,
        consent_schema: ConsentSettings,
    }
    for (schema, table), kinds in refused_by_trigger.items():
        declared = settings_of[schema].table_privileges.get(table, TABLE_DEFAULT)
        assert not kinds & set(declared), f"{schema}.{table}: granted {declared}, refuses {kinds}"
    assert ConsentSettings.table_privileges["consent_history"] == APPEND_ONLY


async def test_tables_the_owner_adds_later_get_the_default_privileges(audit_schema: str) -> None:
    owner = await connect(owner_url(), audit_schema)
    try:
        await owner.execute("CREATE TABLE later (id bigint GENERATED ALWAYS AS IDENTITY, x text)")
        role = await connect(role_url(AuditSettings), audit_schema)
        try:
            await role.execute("INSERT INTO later (x) VALUES ('a')")  # the sequence too
            assert await role.fetchval("SELECT count(*) FROM later") == 1
            assert "permission denied" in await refused(role, "TRUNCATE later")
        finally:
            await role.close()
    finally:
        await owner.execute("DROP TABLE later")
        await owner.close()


async def test_migrations_ran_as_the_owner(audit_schema: str) -> None:
    conn = await connect(role_url(AuditSettings), audit_schema)
    try:
        me = await conn.fetchval("SELECT current_user")
        owners = await conn.fetch(
            "SELECT DISTINCT relowner::regrole::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
            audit_schema,
        )
        schema_owner = await conn.fetchval(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", audit_schema
        )
    finally:
        await conn.close()
    owner = await connect(owner_url())
    try:
        owner_role = await owner.fetchval("SELECT current_user")
    finally:
        await owner.close()
    assert owner_role != me, "the service and its migrations use the same role"
    assert [r[0] for r in owners] == [owner_role]
    assert schema_owner == owner_role


@pytest.mark.parametrize("settings_cls", SERVICES, ids=lambda c: c.service_name)
async def test_no_service_role_is_a_superuser_or_makes_roles(
    settings_cls: type[ServiceSettings],
) -> None:
    conn = await connect(role_url(settings_cls))
    try:
        role = await conn.fetchrow(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        )
        made_role = await refused(conn, "CREATE ROLE forged LOGIN")
        made_schema = await refused(conn, "CREATE SCHEMA forged")
        owner_member = await conn.fetchval(
            "SELECT pg_has_role(current_user, 'privacy_owner', 'USAGE')"
            " FROM pg_roles WHERE rolname = 'privacy_owner'"
        )
    finally:
        await conn.close()
    assert role is not None
    assert not any(role[1:]), dict(role)
    assert "permission denied" in made_role
    assert "permission denied" in made_schema
    assert not owner_member


async def test_the_owner_is_no_superuser_either() -> None:
    conn = await connect(owner_url())
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        )
    finally:
        await conn.close()
    assert role is not None
    assert not any(role), dict(role)


@pytest.mark.parametrize(
    "reader", [c for c in SERVICES if c is not AuditSettings], ids=lambda c: c.service_name
)
async def test_other_services_cannot_read_the_audit_schema(
    audit_schema: str, reader: type[ServiceSettings]
) -> None:
    conn = await connect(role_url(reader), audit_schema)
    try:
        error = await refused(conn, f'SELECT * FROM "{audit_schema}".entries')
        usage = await conn.fetchval("SELECT has_schema_privilege($1, 'USAGE')", audit_schema)
    finally:
        await conn.close()
    assert "permission denied for schema" in error
    assert not usage


async def test_the_audit_role_cannot_read_the_consent_schema(consent_schema: str) -> None:
    conn = await connect(role_url(AuditSettings), consent_schema)
    try:
        error = await refused(conn, f'SELECT * FROM "{consent_schema}".consent_history')
    finally:
        await conn.close()
    assert "permission denied for schema" in error


class Misdeclared(ConsentSettings):
    table_privileges: ClassVar[Any] = {"no_such_table": APPEND_ONLY}


async def test_a_declared_table_the_migrations_did_not_make_stops_the_start(
    schema_factory: Callable[[str], str],
) -> None:
    schema = schema_factory("roles_typo")
    settings = Misdeclared(db_schema=schema)
    engine = create_engine(settings.database_url, schema, pool_size=1)
    try:
        with pytest.raises(ValueError, match="has no table no_such_table"):
            await migrate_service(engine, CONSENT_MIGRATIONS, settings)
    finally:
        await engine.dispose()


async def test_a_service_given_only_its_own_role_starts_on_a_migrated_schema(
    audit_schema: str,
) -> None:
    """Migrations may run as a separate step, the owner's URL kept out of the service."""
    url = role_url(AuditSettings)
    app: FastAPI = build_audit(
        AuditSettings(db_schema=audit_schema, database_url=url, migration_database_url=url)
    )
    async with app.router.lifespan_context(app):
        pass
