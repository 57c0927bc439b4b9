"""Settings of the notifier service (environment prefix ``NOTIFIER_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    """Everything the notifier service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="NOTIFIER_")
    service_name: ClassVar[str] = "notifier"
    default_port: ClassVar[int] = 8005
