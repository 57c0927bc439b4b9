"""Settings of the consent service (environment prefix ``CONSENT_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    """Everything the consent service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="CONSENT_")
    service_name: ClassVar[str] = "consent"
    default_port: ClassVar[int] = 8002
