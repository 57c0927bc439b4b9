"""Settings of the registry service (environment prefix ``REGISTRY_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """Everything the registry service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="REGISTRY_")
    service_name: ClassVar[str] = "registry"
    default_port: ClassVar[int] = 8001
