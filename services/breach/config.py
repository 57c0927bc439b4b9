"""Settings of the breach service (environment prefix ``BREACH_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class BreachSettings(ServiceSettings):
    """Everything the breach service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="BREACH_")
    service_name: ClassVar[str] = "breach"
    default_port: ClassVar[int] = 8004
