"""Settings of the consent service (environment prefix ``CONSENT_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import APPEND_ONLY, ServiceSettings, TablePrivileges


class ConsentSettings(ServiceSettings):
    """Everything the consent service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="CONSENT_")
    service_name: ClassVar[str] = "consent"
    default_port: ClassVar[int] = 8002
    table_privileges: ClassVar[TablePrivileges] = {"consent_history": APPEND_ONLY}
