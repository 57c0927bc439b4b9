"""Profiles: where each service answers and the token to call them with.

One JSON file, ``config.json`` in the user's config directory (``~/.config/privacyctl``
on Linux; ``PRIVACYCTL_CONFIG`` names another), readable by its owner only since it
holds tokens. ``PRIVACYCTL_TOKEN`` overrides a profile's token for one run.
"""

import base64
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from client import SERVICES, ServiceUrls
from client.call import DEFAULT_PORTS

DEFAULT_PROFILE = "default"


def config_path() -> Path:
    """Where the profiles are kept."""
    named = os.environ.get("PRIVACYCTL_CONFIG")
    return Path(named) if named else Path(user_config_dir("privacyctl")) / "config.json"


@dataclass
class Profile:
    """One stack and one identity on it."""

    urls: dict[str, str] = field(
        default_factory=lambda: {s: f"http://127.0.0.1:{p}" for s, p in DEFAULT_PORTS.items()}
    )
    token: str | None = None
    issuer: str | None = None
    """An OpenID provider: ``privacyctl login`` then uses its device-code flow."""
    client_id: str = "privacyctl"
    refresh_token: str | None = None
    """The provider's refresh token: an expired access token is renewed with it."""
    role_claim: str = "role"
    """The claim holding the role in the provider's tokens (what ``whoami`` shows)."""

    def service_urls(self) -> ServiceUrls:
        """The profile's base URLs."""
        return ServiceUrls({s: self.urls[s] for s in SERVICES if s in self.urls})


def load(name: str) -> Profile:
    """The profile ``name`` (a fresh one if there is none), with the token the
    environment gives, if it gives one."""
    profiles = _read()
    profile = Profile(**profiles.get(name, {}))
    if token := os.environ.get("PRIVACYCTL_TOKEN"):
        profile.token = token
    return profile


def save(name: str, profile: Profile) -> Path:
    """Store ``profile`` under ``name``; the file is written whole, then renamed."""
    profiles = _read()
    profiles[name] = asdict(profile)
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(profiles, indent=2, sort_keys=True) + "\n")
    partial.chmod(0o600)
    partial.replace(path)
    return path


def names() -> list[str]:
    """Every profile's name."""
    return sorted(_read())


def _read() -> dict[str, dict[str, Any]]:
    path = config_path()
    if not path.exists():
        return {}
    data = json.loads(path.read_text() or "{}")
    return data if isinstance(data, dict) else {}


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking the signature (only the services can): the
    role, the ids and the expiry shown to the user, never trusted for anything else."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def expired(token: str, now: float | None = None) -> bool:
    """Whether the token's ``exp`` has passed."""
    exp = claims(token).get("exp")
    return isinstance(exp, int | float) and exp <= (now or time.time())
