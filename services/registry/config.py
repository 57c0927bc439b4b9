"""Settings of the registry service (environment prefix ``REGISTRY_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """Everything the registry service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="REGISTRY_")
    service_name: ClassVar[str] = "registry"
    default_port: ClassVar[int] = 8001

    consent_url: str = "http://127.0.0.1:8002"
    """Where the consent service's decision API answers."""
    consent_timeout_seconds: float = 2.0
    visibility_sweep_seconds: float = 60.0
    """How often profiles whose visibility consent ran out are taken down."""
    outbox_retain_published: bool = False
    """The registry's events carry personal data: its outbox keeps no copy once published."""
