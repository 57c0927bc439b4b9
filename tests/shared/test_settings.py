"""Settings: prefixes, stack-wide fallbacks, and refused defaults."""

import socket

import pytest
from pydantic import ValidationError

from services.audit.config import AuditSettings
from services.breach.config import BreachSettings
from services.consent.config import ConsentSettings
from services.notifier.config import NotifierSettings
from services.registry.config import RegistrySettings
from shared import events
from shared.app import shared_port
from shared.settings import DEVELOPMENT_JWT_SECRET


def test_plain_variables_point_every_service_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db:5432/platform")
    for settings in (ConsentSettings(), AuditSettings()):
        assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
        assert settings.database_url.endswith("@db:5432/platform")


def test_prefixed_variable_wins_for_its_service_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db:5432/platform")
    monkeypatch.setenv("AUDIT_DATABASE_URL", "postgresql+asyncpg://u:p@audit-db:5432/audit")
    assert AuditSettings().database_url.endswith("@audit-db:5432/audit")
    assert ConsentSettings().database_url.endswith("@db:5432/platform")


def test_every_service_names_its_topics_with_the_one_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ConsentSettings().topic(events.CONSENT_GRANTED) == "consent.granted.v1"  # public
    monkeypatch.setenv("TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("BREACH_TOPIC_PREFIX", "staging-breach.")
    for settings in (ConsentSettings(), AuditSettings(), NotifierSettings()):
        assert settings.topic(events.DATA_ACCESSED) == "staging.data.accessed.v1"
    assert BreachSettings().topic(events.BREACH_DETECTED) == "staging-breach.breach.detected.v1"
    with pytest.raises(ValidationError, match="topic_prefix"):
        RegistrySettings(topic_prefix="no spaces, no slashes/")


def test_each_service_has_its_own_schema_and_port() -> None:
    assert ConsentSettings().schema_name == "consent"
    assert AuditSettings().http_port == 8003
    assert ConsentSettings(db_schema="consent_test").schema_name == "consent_test"


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="jwt_secret"):
        ConsentSettings()
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-from-the-vault-0123456789abcdef")
    settings = ConsentSettings()
    assert settings.jwt_secret.get_secret_value() != DEVELOPMENT_JWT_SECRET


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        ConsentSettings(jwt_secret="short")


def test_replicas_on_a_shared_port_bind_it_together_and_nothing_else_can() -> None:
    first = shared_port("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = shared_port("127.0.0.1", port)
    plain = socket.socket()
    try:
        assert second.getsockname()[1] == port
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))  # without SO_REUSEPORT the port is taken
    finally:
        for sock in (first, second, plain):
            sock.close()


def test_the_pool_size_is_a_setting_with_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_DB_POOL_SIZE", "32")
    assert RegistrySettings().db_pool_size == 32
    monkeypatch.setenv("REGISTRY_DB_POOL_SIZE", "0")
    with pytest.raises(ValidationError, match="db_pool_size"):
        RegistrySettings()
