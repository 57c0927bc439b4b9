"""Typed settings shared by every service.

Each service subclasses :class:`ServiceSettings` with its own prefix (``REGISTRY_``,
``CONSENT_`` ...). A prefixed variable wins over the plain one, so
``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` point the whole stack at an existing
cluster while ``AUDIT_DATABASE_URL`` can still move one service elsewhere.

Each service connects as a role of its own (``database_url``) and migrates its schema as
the owner role (``migration_database_url``); see docs/database-roles.md.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0123456789"
LOCAL_DATABASE = "127.0.0.1:15432/privacy"
"""Where the local stack's PostgreSQL listens, and its database."""
DEFAULT_MIGRATION_DATABASE_URL = (
    f"postgresql+asyncpg://privacy_owner:privacy_owner@{LOCAL_DATABASE}"
)
"""The owner role of the local stack: it migrates every service's schema."""
DEFAULT_DATABASE_URL = DEFAULT_MIGRATION_DATABASE_URL
"""Where tools and tests do their own work on the local stack (as the owner); services
default to a role of their own, :func:`local_database_url`."""
DEFAULT_KAFKA = "127.0.0.1:19092"

TablePrivileges = Mapping[str, tuple[str, ...]]
"""Table name -> what the service's role may do on it, for tables that get less than
:data:`TABLE_DEFAULT`."""
TABLE_DEFAULT = ("SELECT", "INSERT", "UPDATE", "DELETE")
"""What a service's role may do on a table of its schema unless the service says less."""
APPEND_ONLY = ("SELECT", "INSERT")
"""Rows are added and read, never changed or removed."""
ERASABLE = ("SELECT", "INSERT", "DELETE")
"""Rows are added, read and deleted (erasure), never changed."""


def local_database_url(service_name: str) -> str:
    """The local stack's URL for a service's own role (named after it, password the same)."""
    return f"postgresql+asyncpg://{service_name}:{service_name}@{LOCAL_DATABASE}"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Settings every service reads; subclasses set ``service_name`` and the env prefix."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="PRIVACY_")
    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000
    table_privileges: ClassVar[TablePrivileges] = {}
    """Tables of the service's schema on which its role gets less than TABLE_DEFAULT."""

    environment: Environment = Environment.DEVELOPMENT
    db_schema: str | None = None
    database_url: str = ""
    """The service's own role; unset, the local stack's role named after the service."""
    migration_database_url: str = ""
    """The owner role that migrates the schema; unset, ``database_url`` when that was
    given (one role does both), else the local stack's owner."""
    kafka_bootstrap_servers: str = DEFAULT_KAFKA
    kafka_create_topics: bool = True
    kafka_topic_partitions: int = 3
    kafka_replication_factor: int = Field(default=1, ge=1)
    """Copies of each topic the service creates: 3 on a cluster (the fault suite's,
    production), 1 on the local single node."""
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1)
    """The ``min.insync.replicas`` of the topics the service creates (2 with three
    copies: a write is acknowledged once two brokers hold it); unset, the broker's."""
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,100}$")
    """Put before every topic the service writes (its outbox rows), reads (its
    subscribers) and creates, dead letters included (``TOPIC_PREFIX``). Empty in
    production and the demo, where topics are the contracts' own names; every test stack
    and benchmark sets one of its own, so it reads only its own events."""
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_issuer: str = "privacy-events"
    oidc_issuer: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    """An OpenID provider whose RS256/ES256 access tokens are accepted besides the stack's
    own HS256 ones (``OIDC_ISSUER``, exactly as its tokens' ``iss``; docs/oidc.md)."""
    oidc_audience: str | None = None
    """The ``aud`` the provider's tokens must carry (``OIDC_AUDIENCE``); required in
    production, where a token the provider issued for another application must not pass."""
    oidc_jwks_url: str | None = None
    """The provider's key set; unset, the discovery document's ``jwks_uri``."""
    oidc_role_claim: str = Field(default="role", min_length=1)
    """The claim (or dotted path, ``realm_access.roles``) holding the role: a string, or a
    list with exactly one of the project's roles."""
    oidc_org_claim: str = Field(default="org_id", min_length=1)
    """The claim holding a member organisation's id."""
    oidc_user_claim: str = Field(default="user_id", min_length=1)
    """The claim holding a data subject's user id."""
    http_host: str = "127.0.0.1"
    http_port: int = 0
    http_reuse_port: bool = False
    """Bind the port with SO_REUSEPORT, so that several replicas on one host share it and
    the kernel spreads the connections among them (Linux)."""
    log_level: str = "INFO"
    log_json: bool | None = None
    otel_exporter_otlp_endpoint: str | None = None
    db_pool_size: int = Field(default=20, ge=1, le=100)
    """Connections the service keeps open. Above it, up to as many again are opened for a
    burst and closed when given back: a load that holds more than this many at once pays
    a new connection (and its statements prepared again) for most requests."""
    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 1.0
    outbox_retain_published: bool = True
    job_failing_rounds: int = Field(default=3, ge=1)
    """Consecutive failed rounds of a periodic job after which the service is not ready
    (``/readyz`` names the job and its last error)."""

    @model_validator(mode="before")
    @classmethod
    def _database_roles(cls, data: Any) -> Any:
        # The local defaults come as a pair (the service's role, the owner); a deployment
        # that gives only DATABASE_URL runs its migrations with it, as before.
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("database_url"):
            data["database_url"] = local_database_url(cls.service_name)
            data["migration_database_url"] = (
                data.get("migration_database_url") or DEFAULT_MIGRATION_DATABASE_URL
            )
        elif not data.get("migration_database_url"):
            data["migration_database_url"] = data["database_url"]
        return data

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> "ServiceSettings":
        wanted = self.kafka_min_insync_replicas
        if wanted is not None and wanted > self.kafka_replication_factor:
            raise ValueError(
                f"kafka_min_insync_replicas: {wanted} is more than the "
                f"{self.kafka_replication_factor} replicas (kafka_replication_factor) a "
                "topic has; no write could ever be acknowledged"
            )
        return self

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
        if (
            self.environment is Environment.PRODUCTION
            and self.oidc_issuer is not None
            and not self.oidc_audience
        ):
            raise ValueError(
                "oidc_audience: required in production with an OpenID provider; set "
                "OIDC_AUDIENCE to the audience the provider puts in this stack's tokens"
            )
        if len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("jwt_secret: must be at least 32 characters long")
        return self

    def model_post_init(self, context: Any, /) -> None:
        if self.http_port == 0:
            self.http_port = self.default_port

    def topic(self, name: str) -> str:
        """A topic as this service names it: the contract's name after the prefix."""
        return f"{self.topic_prefix}{name}"

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
