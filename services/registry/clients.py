"""The registry's calls to the consent service: its decision API and a user's consents.

One pooled aiohttp session for the life of the process, authenticated with a platform
token the registry mints from the stack's shared secret and renews before it expires.
(aiohttp, not httpx: on this path httpx cost 3 ms of CPU per call against aiohttp's
0.2 ms, which capped the read path at a few hundred requests per second.)
Answers are decoded from their bytes in one call into pydantic models (the decision
in 1.6 µs, against msgspec's 0.3 µs: nothing beside a round trip, and the registry's
record of a decision shares its fields with it). Any failure to get an answer, or an
answer of the wrong shape, is :class:`ConsentUnavailable`; the registry then refuses
the disclosure (it fails closed).
"""

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
from pydantic import BaseModel, ConfigDict, TypeAdapter

from services.registry.models import ConsentDecision
from shared.auth import Role, mint_token
from shared.settings import ServiceSettings

TOKEN_TTL = timedelta(hours=1)
T = TypeVar("T")
Decode = Callable[[bytes], T]


class ConsentUnavailable(Exception):
    """The consent service did not answer, or answered with an error."""


class ConsentState(BaseModel):
    """One of a user's consents as it stands (``GET /users/{id}/consents``)."""

    model_config = ConfigDict(frozen=True)

    consent_id: str
    version: int
    purpose: str
    active: bool
    valid_until: datetime | None = None
    organisation: str | None = None
    country: str | None = None

    @property
    def scoped(self) -> bool:
        """Limited to one organisation or country."""
        return bool(self.organisation or self.country)


_CONSENTS = TypeAdapter(list[ConsentState])
_ENCODER = msgspec.json.Encoder()
_JSON = {"Content-Type": "application/json"}


class ConsentClient:
    """Asks the consent service; one instance per process."""

    def __init__(self, settings: ServiceSettings, *, base_url: str, timeout: float) -> None:
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._token = ""
        self._renew_at = 0.0

    async def start(self) -> None:
        """Open the pooled HTTP session."""
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), timeout=self._timeout, raise_for_status=False
        )

    async def close(self) -> None:
        """Close the pooled HTTP session."""
        if self._http is not None:
            await self._http.close()

    def _headers(self) -> dict[str, str]:
        now = time.time()
        if now >= self._renew_at:
            self._token = mint_token(
                self._settings.jwt_secret.get_secret_value(),
                role=Role.PLATFORM,
                sub="registry",
                issuer=self._settings.jwt_issuer,
                ttl=TOKEN_TTL,
            )
            self._renew_at = now + TOKEN_TTL.total_seconds() / 2
        return {"Authorization": f"Bearer {self._token}"}

    async def _call(self, method: str, path: str, decode: Decode[T], body: Any = None) -> T:
        assert self._http is not None, "start() the client first"
        headers = self._headers()
        data = None
        if body is not None:
            headers.update(_JSON)
            data = _ENCODER.encode(body)
        try:
            async with self._http.request(
                method, self._base_url + path, headers=headers, data=data
            ) as response:
                if response.status != 200:
                    text = (await response.text())[:200]
                    raise ConsentUnavailable(f"consent service answered {response.status}: {text}")
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConsentUnavailable(f"consent service unreachable: {type(exc).__name__}") from exc
        try:
            return decode(raw)
        except ValueError as exc:  # pydantic's ValidationError is one
            raise ConsentUnavailable(f"consent service answered oddly: {exc}") from exc

    async def decide(
        self,
        *,
        user_id: str,
        organisation: str,
        purpose: str,
        data_categories: list[str],
        at: datetime,
        subject_country: str | None,
    ) -> ConsentDecision:
        """May ``organisation`` receive these categories of this user now?"""
        question = {
            "user_id": user_id,
            "organisation": organisation,
            "purpose": purpose,
            "data_categories": data_categories,
            "at": at,
            "subject_country": subject_country,
        }
        return await self._call("POST", "/decisions", ConsentDecision.model_validate_json, question)

    async def consents(self, user_id: str) -> list[ConsentState]:
        """The user's consents as they stand now."""
        path = f"/users/{quote(user_id, safe='')}/consents"
        return await self._call("GET", path, _CONSENTS.validate_json)
