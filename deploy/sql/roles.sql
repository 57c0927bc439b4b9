-- The database roles of the privacy-events stack (docs/database-roles.md).
--
-- Run it as a superuser, connected to the stack's database; it is idempotent.
-- deploy/local/postgres.sh runs it at every start; docker-compose.yml mounts it into the
-- official image's /docker-entrypoint-initdb.d, which runs it when the volume is new.
--
--   privacy_owner  owns the services' schemas and migrates them (LOGIN, nothing more,
--                  plus CREATE on this database to make the schemas)
--   registry, consent, audit, breach, notifier, detection
--                  one per service: LOGIN, CONNECT on this database, nothing more; each
--                  service grants its role its own privileges after migrating
--                  (shared/db.py, grant_service_role)
--
-- The passwords here are the local stack's (each the role's name) and are set only when
-- a role is created; on a real server create the roles with passwords of your own first
-- (docs/database-roles.md) and this script leaves them alone.

\set ON_ERROR_STOP on
SET lock_timeout = '10s';

DO $roles$
DECLARE
    service text;
    services text[] := ARRAY['registry', 'consent', 'audit', 'breach', 'notifier', 'detection'];
    db text := quote_ident(current_database());
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'privacy_owner') THEN
        CREATE ROLE privacy_owner LOGIN PASSWORD 'privacy_owner';
    END IF;
    ALTER ROLE privacy_owner LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;
    FOREACH service IN ARRAY services LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = service) THEN
            EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', service, service);
        END IF;
        EXECUTE format(
            'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS',
            service);
        -- No service role may act as the owner.
        IF pg_has_role(service, 'privacy_owner', 'MEMBER') THEN
            EXECUTE format('REVOKE privacy_owner FROM %I', service);
        END IF;
    END LOOP;

    -- Only the stack's roles connect; only the owner makes schemas; nobody makes
    -- temporary tables (PUBLIC's default CONNECT and TEMPORARY are taken back).
    EXECUTE format('REVOKE ALL ON DATABASE %s FROM PUBLIC', db);
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %s TO privacy_owner', db);
    EXECUTE format('GRANT CONNECT ON DATABASE %s TO %s', db,
                   array_to_string(ARRAY(SELECT quote_ident(s) FROM unnest(services) s), ', '));
END
$roles$;

-- A cluster made before these roles existed has the services' schemas owned by the
-- superuser the services used to connect as: hand them, and what is in them, to the owner.
DO $handover$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT n.nspname FROM pg_namespace n
        WHERE n.nspname IN ('registry', 'consent', 'audit', 'breach', 'notifier', 'detection')
          AND n.nspowner <> 'privacy_owner'::regrole
    LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO privacy_owner', item.nspname);
    END LOOP;
    FOR item IN
        SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('registry', 'consent', 'audit', 'breach', 'notifier', 'detection')
          AND c.relowner <> 'privacy_owner'::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          -- a sequence behind an identity or serial column moves with its table
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype IN ('a', 'i') AND c.relkind = 'S')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO privacy_owner',
                       CASE WHEN item.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('registry', 'consent', 'audit', 'breach', 'notifier', 'detection')
          AND p.proowner <> 'privacy_owner'::regrole
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO privacy_owner', item.name);
    END LOOP;
END
$handover$;
