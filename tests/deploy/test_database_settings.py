"""Which database role a service connects as, and which one migrates its schema."""

import pytest
from sqlalchemy.engine import make_url

from services.audit.config import AuditSettings
from services.consent.config import ConsentSettings
from services.registry.config import RegistrySettings
from shared.settings import DEFAULT_MIGRATION_DATABASE_URL, local_database_url

VARIABLES = [
    f"{prefix}{name}"
    for prefix in ("", "AUDIT_", "CONSENT_", "REGISTRY_")
    for name in ("DATABASE_URL", "MIGRATION_DATABASE_URL")
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_locally_each_service_has_its_own_role_and_the_owner_migrates() -> None:
    for cls in (AuditSettings, ConsentSettings, RegistrySettings):
        settings = cls()
        url = make_url(settings.database_url)
        assert (url.username, url.password) == (cls.service_name, cls.service_name)
        assert settings.database_url == local_database_url(cls.service_name)
        assert settings.migration_database_url == DEFAULT_MIGRATION_DATABASE_URL
        assert make_url(settings.migration_database_url).username == "privacy_owner"


def test_a_deployment_with_one_url_migrates_with_it_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db:5432/platform")
    settings = AuditSettings()
    assert settings.database_url == settings.migration_database_url
    assert settings.migration_database_url.endswith("u:p@db:5432/platform")


def test_the_owner_url_is_set_for_the_stack_or_for_one_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://svc:p@db:5432/platform")
    monkeypatch.setenv("MIGRATION_DATABASE_URL", "postgresql+asyncpg://owner:p@db:5432/platform")
    monkeypatch.setenv("AUDIT_DATABASE_URL", "postgresql+asyncpg://audit:p@db:5432/platform")
    monkeypatch.setenv(
        "AUDIT_MIGRATION_DATABASE_URL", "postgresql+asyncpg://audit_owner:p@db:5432/platform"
    )
    audit, consent = AuditSettings(), ConsentSettings()
    assert make_url(audit.database_url).username == "audit"
    assert make_url(audit.migration_database_url).username == "audit_owner"
    assert make_url(consent.database_url).username == "svc"
    assert make_url(consent.migration_database_url).username == "owner"


def test_an_owner_alone_keeps_the_services_local_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGRATION_DATABASE_URL", "postgresql+asyncpg://owner:p@db:5432/platform")
    settings = ConsentSettings()
    assert settings.database_url == local_database_url("consent")
    assert make_url(settings.migration_database_url).username == "owner"


def test_urls_given_in_code_win_over_the_local_pair() -> None:
    url = "postgresql+asyncpg://probe:p@db:5432/platform"
    settings = ConsentSettings(database_url=url)
    assert settings.database_url == settings.migration_database_url == url
