"""Typed settings shared by every service.

Each service subclasses :class:`ServiceSettings` with its own prefix (``REGISTRY_``,
``CONSENT_`` ...). A prefixed variable wins over the plain one, so
``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` point the whole stack at an existing
cluster while ``AUDIT_DATABASE_URL`` can still move one service elsewhere.
"""

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0123456789"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://privacy:privacy@127.0.0.1:15432/privacy"
DEFAULT_KAFKA = "127.0.0.1:19092"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Settings every service reads; subclasses set ``service_name`` and the env prefix."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="PRIVACY_")
    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    environment: Environment = Environment.DEVELOPMENT
    db_schema: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    kafka_bootstrap_servers: str = DEFAULT_KAFKA
    kafka_create_topics: bool = True
    kafka_topic_partitions: int = 3
    kafka_replication_factor: int = 1
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_issuer: str = "privacy-events"
    http_host: str = "127.0.0.1"
    http_port: int = 0
    log_level: str = "INFO"
    log_json: bool | None = None
    otel_exporter_otlp_endpoint: str | None = None
    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 1.0
    outbox_retain_published: bool = True

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> "ServiceSettings":
        if (
            self.environment is Environment.PRODUCTION
            and self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
        ):
            raise ValueError(
                "jwt_secret: the development secret is refused in production; "
                "set JWT_SECRET to a long random value"
            )
        if len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("jwt_secret: must be at least 32 characters long")
        return self

    def model_post_init(self, context: Any, /) -> None:
        if self.http_port == 0:
            self.http_port = self.default_port

    @property
    def schema_name(self) -> str:
        """The PostgreSQL schema this service owns (its name, unless ``db_schema`` says)."""
        return self.db_schema or self.service_name

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Prefixed variables first, then the plain stack-wide ones.
        plain = EnvSettingsSource(settings_cls, env_prefix="")
        return init_settings, env_settings, plain, dotenv_settings, file_secret_settings
