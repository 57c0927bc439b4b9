"""docker-compose.yml lists every service with the settings its code reads.

No Docker engine runs on the project's machines, so this reads the file instead.
"""

import importlib
import re
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from shared.settings import ServiceSettings
from tests.support import ROOT

SERVICES = ["registry", "consent", "audit", "breach", "notifier"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def settings_class(service: str) -> type[ServiceSettings]:
    config = importlib.import_module(f"services.{service}.config")
    cls: type[ServiceSettings] = getattr(config, f"{service.capitalize()}Settings")
    return cls


def test_compose_has_the_infrastructure(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["postgres"]["image"].startswith("postgres:15")
    assert "smtp" in services


@pytest.mark.parametrize("service", SERVICES)
def test_compose_runs_each_service_with_settings_it_reads(
    compose: dict[str, Any], service: str
) -> None:
    entry = compose["services"][service]
    assert entry["command"] == f"python -m services.{service}.main"
    assert {"kafka", "postgres"} <= set(entry["depends_on"])

    cls = settings_class(service)
    prefix = str(cls.model_config.get("env_prefix", ""))
    fields = {name.upper() for name in cls.model_fields}
    environment = {str(k): str(v) for k, v in entry["environment"].items()}
    for variable in environment:
        name = variable.removeprefix(prefix)
        assert name in fields, f"{service}: {variable} is not a setting the service reads"

    assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert "MIGRATION_DATABASE_URL" in environment
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "JWT_SECRET" in environment
    port = int(environment[f"{prefix}HTTP_PORT"])
    assert port == cls.default_port
    assert entry["ports"] == [f"{port}:{port}"]


def test_compose_creates_the_roles_with_the_script_the_local_stack_uses(
    compose: dict[str, Any],
) -> None:
    postgres = compose["services"]["postgres"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in postgres["volumes"] if ":ro" in v)
    assert mounts["./deploy/sql/roles.sql"].startswith("/docker-entrypoint-initdb.d/")
    assert (ROOT / "deploy/sql/roles.sql").is_file()
    # The first start runs the script on a socket-only server: ready means over TCP.
    assert "-h 127.0.0.1" in postgres["healthcheck"]["test"][1]


@pytest.mark.parametrize("service", SERVICES)
def test_compose_runs_each_service_as_its_own_role_and_migrates_as_the_owner(
    compose: dict[str, Any], service: str
) -> None:
    environment = compose["services"][service]["environment"]
    superuser = compose["services"]["postgres"]["environment"]["POSTGRES_USER"]
    database = compose["services"]["postgres"]["environment"]["POSTGRES_DB"]
    role = make_url(environment["DATABASE_URL"])
    owner = make_url(environment["MIGRATION_DATABASE_URL"])
    assert role.username == service
    assert owner.username == "privacy_owner"
    assert superuser not in {role.username, owner.username}
    assert role.database == owner.database == database
    created = roles_sql_creates()
    assert {service, "privacy_owner"} <= created


def roles_sql_creates() -> set[str]:
    """The roles deploy/sql/roles.sql makes: the owner and the services' array."""
    sql = (ROOT / "deploy/sql/roles.sql").read_text()
    services = re.search(r"services text\[\] := ARRAY\[([^\]]*)\]", sql)
    assert services is not None
    names = set(re.findall(r"'([a-z_]+)'", services.group(1)))
    if "CREATE ROLE privacy_owner" in sql:
        names.add("privacy_owner")
    return names
