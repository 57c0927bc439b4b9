"""Settings of the audit service (environment prefix ``AUDIT_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    """Everything the audit service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="AUDIT_")
    service_name: ClassVar[str] = "audit"
    default_port: ClassVar[int] = 8003
