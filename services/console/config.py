"""The console's settings (``CONSOLE_`` over the plain variables)."""

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServiceSettings

DEVELOPMENT_SESSION_SECRET = "development-only-console-session-secret-0123456789"


class ConsoleSettings(ServiceSettings):
    """Where the services answer, how sessions are signed, what sign-in is offered."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="CONSOLE_")
    service_name: ClassVar[str] = "console"
    default_port: ClassVar[int] = 8006

    registry_url: str = "http://127.0.0.1:8001"
    consent_url: str = "http://127.0.0.1:8002"
    audit_url: str = "http://127.0.0.1:8003"
    breach_url: str = "http://127.0.0.1:8004"
    notifier_url: str = "http://127.0.0.1:8005"
    session_secret: SecretStr = SecretStr(DEVELOPMENT_SESSION_SECRET)
    """Signs the session cookie; at least 32 characters, never the default in production."""
    session_hours: float = Field(default=12.0, gt=0, le=24 * 7)
    """A session ends after this long, or when its token expires, whichever is first."""
    dev_sign_in: bool = True
    """Offer the sign-in form that takes a token (always off in production)."""
    refresh_seconds: int = Field(default=5, ge=1, le=3600)
    """How often htmx refreshes a breach's progress and time left."""
    audit_public_key: str | None = None
    """The audit log's Ed25519 key (base64) pinned here; unset, the key the audit
    service publishes is used, and the entry page says so."""
    page_size: int = Field(default=50, ge=1, le=500)
    """Rows on one page of a table."""
    call_timeout_seconds: float = Field(default=15.0, gt=0)
    oidc_client_id: str | None = None
    """The console's client at the OpenID provider (``OIDC_ISSUER``): with both set, the
    sign-in page offers the provider (docs/oidc.md)."""
    oidc_client_secret: SecretStr | None = None
    """The client's secret (a confidential client); unset, a public client with PKCE only."""
    oidc_scope: str = "openid"
    """The scopes asked for; the role comes from the access token's claims either way."""

    @model_validator(mode="after")
    def _production_sessions(self) -> "ConsoleSettings":
        secret = self.session_secret.get_secret_value()
        if len(secret) < 32:
            raise ValueError("session_secret: must be at least 32 characters long")
        if self.environment is Environment.PRODUCTION:
            if secret == DEVELOPMENT_SESSION_SECRET:
                raise ValueError(
                    "session_secret: the development secret is refused in production; "
                    "set CONSOLE_SESSION_SECRET to a long random value"
                )
            self.dev_sign_in = False
        return self

    @property
    def production(self) -> bool:
        """Cookies are Secure and the token form is off."""
        return self.environment is Environment.PRODUCTION

    def service_urls(self) -> dict[str, str]:
        """The base URL of each service the console calls."""
        return {
            "registry": self.registry_url,
            "consent": self.consent_url,
            "audit": self.audit_url,
            "breach": self.breach_url,
            "notifier": self.notifier_url,
        }
