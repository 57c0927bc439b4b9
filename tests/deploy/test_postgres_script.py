"""deploy/local/postgres.sh sets up the roles on a fresh cluster and on one made before them.

Each test runs a PostgreSQL of its own (a scratch data directory, a free port) and stops it.
"""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")), reason="no PostgreSQL"
    ),
]
SCRIPT = ROOT / "deploy/local/postgres.sh"
ROLES = ["privacy_owner", "registry", "consent", "audit", "breach", "notifier"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, state: Path, port: int) -> None:
        self.state, self.port = state, port

    def script(self, command: str, **env: str) -> str:
        done = subprocess.run(
            ["bash", str(SCRIPT), command],
            env={
                **os.environ,
                "PRIVACY_LOCAL_DIR": str(self.state),
                "PG_PORT": str(self.port),
                **env,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def sql(self, query: str, user: str, database: str = "privacy") -> str:
        psql = next(Path("/usr/lib/postgresql").glob("*/bin/psql"))
        done = subprocess.run(
            [
                str(psql),
                "-X",
                "-tA",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                query,
            ],
            env={**os.environ, "PGPASSWORD": user},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # Under /tmp, which the 'postgres' user (the cluster runs as it under root) can reach.
    state = Path(tmp_path_factory.mktemp("pg"))
    made = Cluster(state, free_port())
    try:
        yield made
    finally:
        made.script("stop")
        shutil.rmtree(state, ignore_errors=True)


def role_attributes(cluster: Cluster, superuser: str) -> dict[str, str]:
    rows = cluster.sql(
        "SELECT rolname, rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls, rolcanlogin"
        f" FROM pg_roles WHERE rolname IN ({', '.join(repr(r) for r in ROLES)})",
        superuser,
    )
    return {line.split("|")[0]: line.split("|", 1)[1] for line in rows.splitlines()}


def test_a_fresh_cluster_gets_a_postgres_superuser_an_owner_and_the_service_roles(
    cluster: Cluster,
) -> None:
    cluster.script("start")
    assert role_attributes(cluster, "postgres") == dict.fromkeys(ROLES, "f|t")
    assert (
        cluster.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'", "postgres") == "t"
    )
    # the owner makes schemas; a service role cannot
    cluster.sql("CREATE SCHEMA made_by_owner", "privacy_owner")
    again = cluster.script("start")  # already running: the roles are applied again, unchanged
    assert "already running" in again
    assert role_attributes(cluster, "postgres") == dict.fromkeys(ROLES, "f|t")


def test_a_cluster_made_before_the_roles_keeps_its_superuser_and_hands_its_schemas_over(
    cluster: Cluster,
) -> None:
    # The old script's cluster: superuser 'privacy', no record of it, no other roles,
    # and a service schema made by services that connected as that superuser.
    cluster.script("start", PG_SUPERUSER="privacy")
    (cluster.state / "postgres" / "superuser").unlink()
    roles = ", ".join(ROLES)
    cluster.sql(
        f"REVOKE ALL ON DATABASE privacy FROM {roles}; GRANT ALL ON DATABASE privacy TO PUBLIC;"
        f" DROP ROLE {roles}",
        "privacy",
    )
    cluster.sql(
        "CREATE SCHEMA audit; CREATE TABLE audit.entries"
        " (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x text);"
        " CREATE FUNCTION audit.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "privacy",
    )
    cluster.script("stop")

    cluster.script("start")

    assert role_attributes(cluster, "privacy") == dict.fromkeys(ROLES, "f|t")
    owners = cluster.sql(
        "SELECT DISTINCT relowner::regrole FROM pg_class WHERE relnamespace = 'audit'::regnamespace"
        " UNION SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'audit'"
        " UNION SELECT proowner::regrole FROM pg_proc WHERE pronamespace = 'audit'::regnamespace",
        "privacy",
    )
    assert owners == "privacy_owner"
    assert cluster.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'privacy'", "privacy") == "t"
