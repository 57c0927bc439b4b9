"""Settings: prefixes, stack-wide fallbacks, and refused defaults."""

import pytest
from pydantic import ValidationError

from services.audit.config import AuditSettings
from services.consent.config import ConsentSettings
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
