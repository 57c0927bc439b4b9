"""Settings of the audit service (environment prefix ``AUDIT_``)."""

import base64
import hashlib
from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.audit.recipients.settings import RECIPIENT_TABLES, RecipientSettings
from shared.settings import APPEND_ONLY, ERASABLE, Environment, TablePrivileges


class WitnessSettings(BaseModel):
    """A witness the log submits its checkpoints to (c2sp.org/tlog-witness)."""

    vkey: str = Field(description="Its verifier key: <name>+<hex key id>+<base64(0x04 || key)>.")
    url: str = Field(description="Its submission prefix; add-checkpoint is POSTed under it.")


class AuditSettings(RecipientSettings):
    """Everything the audit service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="AUDIT_")
    service_name: ClassVar[str] = "audit"
    default_port: ClassVar[int] = 8003
    table_privileges: ClassVar[TablePrivileges] = {
        **dict.fromkeys(
            (
                "entries",
                "tree_nodes",
                "tree_heads",
                "consent_changes",
                "checks",
                "erasures",
                "checkpoint_cosignatures",
            ),
            APPEND_ONLY,
        ),
        "entry_personal": ERASABLE,  # deleted on erasure, never changed
        **dict.fromkeys(RECIPIENT_TABLES, APPEND_ONLY),  # recipient notices: evidence
    }

    signing_key: SecretStr | None = None
    """Ed25519 private key seed, 32 bytes in base64. Development derives one from the
    JWT secret; production refuses to start without it."""
    tree_head_seconds: float = 1.0
    """How often a new signed tree head is published when the log has grown."""
    check_grace_seconds: float = 5.0
    """How long a disclosure waits for late consent events before it is checked."""
    check_unknown_after_seconds: float = 300.0
    """How long a disclosure naming a consent not yet in the history waits for it."""
    check_seconds: float = 1.0
    """How often unchecked disclosures are checked against the consent history."""
    log_origin: str = Field(
        default="localhost/privacy-audit-log", pattern=r"^[^\s+]+$", max_length=255
    )
    """The checkpoints' origin line, and the name their signature goes by: the log's
    URL prefix without its scheme (c2sp.org/tlog-tiles), the same on every replica."""
    tiles_public: bool = False
    """Whether anyone may read the checkpoint, tiles and entry bundles; by default an
    auditor's (or admin's) token is needed for tiles and bundles, any token for the
    checkpoint. An entry holds what ``GET /entries/{seq}`` shows auditors."""
    witnesses: list[WitnessSettings] = Field(default_factory=list)
    """Witnesses that cosign the log's checkpoints, as JSON:
    ``[{"vkey": "witness.example/w1+1234abcd+BA...", "url": "https://witness.example"}]``."""
    witness_seconds: float = 5.0
    """How often the newest checkpoint is submitted to the witnesses."""
    ingest_batch_size: int = 5000
    """Records fetched and read at a time (the writer may merge several batches)."""
    ingest_workers: int = Field(default=0, ge=0, le=1)
    """0: records are decoded and hashed in a thread of the service, which the native
    reading (``audit_native``) runs in without holding the GIL; 1: in a worker process,
    which is faster only for the Python reading, when ``audit_native`` is not built."""

    @model_validator(mode="after")
    def _signing_key_outside_development(self) -> "AuditSettings":
        if self.environment is Environment.PRODUCTION and self.signing_key is None:
            raise ValueError("signing_key: set AUDIT_SIGNING_KEY (32 random bytes, base64)")
        return self

    def signing_seed(self) -> bytes:
        """The 32-byte Ed25519 seed."""
        if self.signing_key is not None:
            seed = base64.b64decode(self.signing_key.get_secret_value())
            if len(seed) != 32:
                raise ValueError("signing_key: must be 32 bytes in base64")
            return seed
        secret = self.jwt_secret.get_secret_value().encode()
        return hashlib.sha256(b"audit-signing-key:" + secret).digest()
