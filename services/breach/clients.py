"""The breach service's calls to the audit service: who an organisation received data of.

One pooled httpx client for the life of the process, authenticated with a ``security``
token the service mints from the stack's shared secret and renews before it expires.
Any failure to get an answer is :class:`AuditUnavailable`; the scope being resolved
keeps its cursor and the next round asks again.
"""

import time
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from services.breach.exceptions import AuditUnavailable
from shared.auth import Role, mint_token
from shared.settings import ServiceSettings

TOKEN_TTL = timedelta(hours=1)


class SubjectsPage(BaseModel, frozen=True):
    """One page of subject ids, sorted, and where the next page starts (None: the end):
    the audit service's answer, read through this model."""

    subjects: list[str]
    next_after: str | None = None


class AuditClient:
    """Asks the audit service; one instance per process."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        base_url: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )
        self._token = ""
        self._renew_at = 0.0

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        now = time.time()
        if now >= self._renew_at:
            self._token = mint_token(
                self._settings.jwt_secret.get_secret_value(),
                role=Role.SECURITY,
                sub="breach",
                issuer=self._settings.jwt_issuer,
                ttl=TOKEN_TTL,
            )
            self._renew_at = now + TOKEN_TTL.total_seconds() / 2
        return {"Authorization": f"Bearer {self._token}"}

    async def subjects(
        self,
        organisation: str,
        *,
        since: datetime,
        until: datetime,
        categories: list[str] | None,
        after: str | None,
        limit: int,
    ) -> SubjectsPage:
        """Subjects whose data (of ``categories``, when given) reached ``organisation``."""
        params: dict[str, str | int] = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "limit": limit,
        }
        if categories:
            params["categories"] = ",".join(categories)
        if after is not None:
            params["after"] = after
        path = f"/organisations/{quote(organisation, safe='')}/subjects"
        try:
            response = await self._http.get(path, params=params, headers=self._headers())
        except httpx.HTTPError as exc:
            raise AuditUnavailable(f"audit service unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise AuditUnavailable(
                f"audit service answered {response.status_code}: {response.text[:300]}"
            )
        try:
            return SubjectsPage.model_validate_json(response.content)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in problem["loc"]) or "the body"
            raise AuditUnavailable(
                f"audit service answered an odd page: {where}: {problem['msg']}"
            ) from exc
