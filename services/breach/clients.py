"""The breach service's calls to the audit service: who an organisation received data of.

Sent with the project's typed client (``client``: the route and its answer's model as
the audit service publishes them), one pooled connection set for the life of the
process, authenticated with a ``security`` token the service mints from the stack's
shared secret and renews before it expires. Any failure to get an answer, or an answer
that does not read as a page, is :class:`AuditUnavailable`; the scope being resolved
keeps its cursor and the next round asks again (so the client's own retries are off).
"""

import dataclasses
import time
from datetime import datetime, timedelta

import httpx
from pydantic import BaseModel, ValidationError

from client import ApiError, AsyncClient, ServiceUrls
from client import audit as audit_api
from services.breach.exceptions import AuditUnavailable
from shared.auth import Role, mint_token
from shared.settings import ServiceSettings

TOKEN_TTL = timedelta(hours=1)


class SubjectsPage(BaseModel, frozen=True):
    """One page of subject ids, sorted, and where the next page starts (None: the end)."""

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
        self._api = AsyncClient(
            ServiceUrls({"audit": base_url}), timeout=timeout, transport=transport
        )
        self._renew_at = 0.0

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._api.close()

    def _authenticate(self) -> None:
        now = time.time()
        if now >= self._renew_at:
            self._api.token = mint_token(
                self._settings.jwt_secret.get_secret_value(),
                role=Role.SECURITY,
                sub="breach",
                issuer=self._settings.jwt_issuer,
                ttl=TOKEN_TTL,
            )
            self._renew_at = now + TOKEN_TTL.total_seconds() / 2

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
        call = audit_api.subjects(
            organisation,
            since=since,
            until=until,
            categories=categories or None,
            after=after,
            limit=limit,
        )
        self._authenticate()
        try:
            page = await self._api.send(dataclasses.replace(call, retry=False))
        except ApiError as exc:
            said = (
                f"audit service answered {exc.status}: {exc.message}"
                if exc.status
                else f"audit service unreachable: {exc.message}"
            )
            raise AuditUnavailable(said) from exc
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in problem["loc"]) or "the body"
            raise AuditUnavailable(
                f"audit service answered an odd page: {where}: {problem['msg']}"
            ) from exc
        return SubjectsPage(subjects=page.subjects, next_after=page.next_after)
