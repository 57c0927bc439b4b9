"""docker-compose.yml lists every service with the settings its code reads.

No Docker engine runs on the project's machines, so this reads the file instead.
"""

import importlib
from typing import Any

import pytest
import yaml

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
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "JWT_SECRET" in environment
    port = int(environment[f"{prefix}HTTP_PORT"])
    assert port == cls.default_port
    assert entry["ports"] == [f"{port}:{port}"]
