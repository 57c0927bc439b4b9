"""Settings of the consent service (environment prefix ``CONSENT_``)."""

import os
import socket
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import APPEND_ONLY, ServiceSettings, TablePrivileges


def _default_replica_id() -> str:
    # Unique per process, so two replicas on one host never share a consumer group by
    # accident; a deployment sets REPLICA_ID to a stable name (the pod's).
    return f"{socket.gethostname()}-{os.getpid()}"


class ConsentSettings(ServiceSettings):
    """Everything the consent service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="CONSENT_")
    service_name: ClassVar[str] = "consent"
    default_port: ClassVar[int] = 8002
    table_privileges: ClassVar[TablePrivileges] = {"consent_history": APPEND_ONLY}

    replica_id: str = Field(
        default_factory=_default_replica_id,
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="This replica's name: its consumer group is <schema>.replica.<id>.",
    )
    replication_fetch_wait_ms: int = Field(default=100, ge=1, le=5000)
    """How long the broker holds a fetch that finds nothing new: an idle replica's
    latency floor for seeing a change, and its polling rate."""

    @property
    def replica_group(self) -> str:
        """The consumer group of this replica alone: every replica sees every change."""
        return f"{self.schema_name}.replica.{self.replica_id}"
