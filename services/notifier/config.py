"""Settings of the notifier service (environment prefix ``NOTIFIER_``)."""

from email.utils import parseaddr
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServiceSettings

TEMPLATES = Path(__file__).parent / "templates"


class NotifierSettings(ServiceSettings):
    """Everything the notifier service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="NOTIFIER_")
    service_name: ClassVar[str] = "notifier"
    default_port: ClassVar[int] = 8005

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    """Upgrade each session with STARTTLS (port 587 relays); refused if the server cannot."""
    smtp_tls: bool = False
    """Implicit TLS from the first byte (port 465 relays)."""
    smtp_validate_certs: bool = True
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_from: str = "Privacy Notices <notices@privacy-events.local>"
    smtp_sessions: int = Field(default=4, ge=1, le=100)
    """SMTP sessions open at once to the server, at most; each sends many messages."""
    smtp_rate_per_second: float = Field(default=1000.0, ge=0)
    """Messages per second to the server, at most (0: no limit)."""
    smtp_messages_per_session: int = Field(default=1000, ge=1)
    """A session is closed (QUIT) and a new one opened after this many messages."""
    smtp_backoff_seconds: float = Field(default=1.0, ge=0)
    """First retry delay after a temporary failure of a message; each next one doubles,
    with full jitter, up to ``smtp_backoff_max_seconds``."""
    smtp_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    """The longest wait between two attempts of one message (an hour, as MTAs do)."""
    retry_margin_hours: float = Field(default=6.0, ge=0, le=71)
    """A notice's temporary failures are retried until this long before the person's
    notification deadline (the request's ``deadline_at``): its horizon. Only then does it
    fail as ``retries_exhausted``."""
    clock_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often a notice waiting for its next attempt, or for the mail server, looks at
    the service's clock again (the clock is injectable: tests move it)."""
    smtp_probe_seconds: float = Field(default=1.0, gt=0)
    """First wait before probing a mail server that could not be reached; each next one
    doubles, up to ``smtp_probe_max_seconds``."""
    smtp_probe_max_seconds: float = Field(default=30.0, gt=0)
    smtp_slow_down_floor_per_second: float = Field(default=1.0, gt=0)
    """The rate a server saying "slow down" (421, 450, 451) can bring sending down to, at
    the lowest; the rate halves at each such reply."""
    smtp_slow_down_recover_seconds: float = Field(default=30.0, gt=0)
    """After this long without a "slow down", the lowered rate doubles again, back up to
    ``smtp_rate_per_second``."""
    in_flight_notices: int = Field(default=100, ge=1, le=10_000)
    """Notices handed to the server whose outcome is not committed yet, at most: the most
    one crash can leave ``uncertain``."""
    outcome_linger_seconds: float = Field(default=0.05, ge=0, le=5)
    """How long an outcome waits for others to be committed in the same round (fewer,
    larger rounds: fewer outbox relay transactions)."""
    start_linger_seconds: float = Field(default=0.005, ge=0, le=1)
    """How long a start mark waits for others to be committed in the same round (a send
    waits for its mark: keep it short)."""
    message_id_domain: str | None = None
    """The right-hand side of Message-IDs; ``notices.<the From domain>`` by default."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Requests consumed and claimed in one transaction."""
    batches_in_flight: int = Field(default=4, ge=1, le=64)
    """Claimed batches being sent at once; the consumer waits beyond that."""
    no_contact_grace_seconds: float = Field(default=30.0, ge=0)
    """How long a request for a person with no known address waits for the registration
    event (it travels on another topic, so it can arrive after the request)."""
    organisation_contact_grace_seconds: float = Field(default=600.0, ge=0)
    """How long a recipient notice for an organisation whose privacy contact is not known
    yet waits for it (organisation.* events travel on other topics, from another service)
    before it fails with reason ``no_contact``; measured on the service's clock."""
    contact_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often waiting notices look their contact up again."""
    audit_api_url: str = "http://localhost:8003"
    """Where an organisation confirms a recipient notice (the audit service's API), as
    the notice tells it."""
    templates_dir: Path = TEMPLATES
    max_bounce_bytes: int = Field(default=1_048_576, ge=1024)

    @model_validator(mode="after")
    def _refuse_clear_text_passwords_in_production(self) -> "NotifierSettings":
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError("smtp_tls and smtp_starttls: choose one (465 uses TLS, 587 STARTTLS)")
        if (
            self.environment is Environment.PRODUCTION
            and self.smtp_username
            and not (self.smtp_tls or self.smtp_starttls)
        ):
            raise ValueError(
                "smtp_starttls: a password is never sent in clear in production; "
                "set NOTIFIER_SMTP_STARTTLS=true or NOTIFIER_SMTP_TLS=true"
            )
        if "@" not in self.from_address:
            raise ValueError(f"smtp_from: '{self.smtp_from}' holds no address")
        return self

    @property
    def from_address(self) -> str:
        """The bare address of ``smtp_from`` (the envelope sender)."""
        return parseaddr(self.smtp_from)[1]

    @property
    def id_domain(self) -> str:
        """The domain of every Message-ID the notifier writes."""
        return self.message_id_domain or f"notices.{self.from_address.rpartition('@')[2]}"
