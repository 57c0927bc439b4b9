"""The two clients, sync and async, on httpx: one pooled connection set each.

httpx rather than aiohttp: it has a sync and an async client with one API (a terminal
command is sync, a service or the console async), ``MockTransport`` and
``ASGITransport`` let tests fake the HTTP layer or run an app in-process, and the
project already depends on it.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from client.call import DEFAULT_PORTS, SERVICES, Call, Paged, Service
from client.errors import ApiError, Unavailable, cut_off, error_of, unreachable

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
USER_AGENT = "privacy-events-client/0.1"
RETRY_PAUSES = (0.2, 0.5, 1.0)
"""Pauses before each retry of a call that is safe to send again."""


@dataclass(frozen=True)
class ServiceUrls:
    """Where each service answers; by default the local stack's ports 8001-8005."""

    urls: Mapping[str, str] = field(
        default_factory=lambda: {s: f"http://127.0.0.1:{p}" for s, p in DEFAULT_PORTS.items()}
    )

    def __post_init__(self) -> None:
        missing = [s for s in SERVICES if s not in self.urls]
        if missing:
            defaults = ServiceUrls().urls
            object.__setattr__(self, "urls", {**{s: defaults[s] for s in missing}, **self.urls})

    def of(self, service: Service) -> str:
        """The base URL of ``service``, without a trailing slash."""
        return self.urls[service].rstrip("/")


class _Base:
    def __init__(self, urls: ServiceUrls | None, token: str | None) -> None:
        self.urls = urls or ServiceUrls()
        self.token = token

    def _request(self, call: Call[Any]) -> dict[str, Any]:
        headers = {"User-Agent": USER_AGENT, **call.headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return {
            "method": call.method,
            "url": self.urls.of(call.service) + call.path,
            "params": call.query(),
            "json": call.json(),
            "headers": headers,
        }

    def _checked(self, call: Call[Any], response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            raise error_of(response, call.service)
        return response

    def _unreachable(self, call: Call[Any], exc: httpx.TransportError) -> Unavailable:
        return unreachable(exc, call.service, self.urls.of(call.service))


def _retryable(call: Call[Any], exc: ApiError) -> bool:
    return call.retry and isinstance(exc, Unavailable)


class Client(_Base):
    """The services' APIs, sync: ``client.send(audit.disclosures(organisation="x"))``."""

    def __init__(
        self,
        urls: ServiceUrls | None = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(urls, token)
        self.http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.http.close()

    def send(self, call: Call[T]) -> T:
        """Send ``call`` (again after no answer, when it is safe to); its answer, typed."""
        for pause in (*RETRY_PAUSES, None):
            try:
                return call.parse(self._send(call))
            except ApiError as exc:
                if pause is None or not _retryable(call, exc):
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _send(self, call: Call[Any]) -> httpx.Response:
        try:
            response = self.http.request(**self._request(call))
        except httpx.TransportError as exc:
            raise self._unreachable(call, exc) from exc
        return self._checked(call, response)

    def pages(self, call: Paged[Any, I]) -> Iterator[I]:
        """Every item of every page, one page in memory at a time."""
        next_call: Paged[Any, I] | None = call
        while next_call is not None:
            page = self.send(next_call)
            yield from call.items(page)
            next_call = next_call.next(page)

    def stream(self, call: Call[Any], chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """The answer's body as it arrives (an export): never all of it in memory."""
        request, started = self._request(call), False
        try:
            with self.http.stream(**request) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_of(response, call.service)
                started = True
                yield from response.iter_bytes(chunk_size)
        except httpx.TransportError as exc:
            raise (cut_off(exc, call.service) if started else self._unreachable(call, exc)) from exc


class AsyncClient(_Base):
    """The services' APIs, async: ``await client.send(breach.get(breach_id))``."""

    def __init__(
        self,
        urls: ServiceUrls | None = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(urls, token)
        self.http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pooled connections."""
        await self.http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send ``call`` (again after no answer, when it is safe to); its answer, typed."""
        for pause in (*RETRY_PAUSES, None):
            try:
                return call.parse(await self._send(call))
            except ApiError as exc:
                if pause is None or not _retryable(call, exc):
                    raise
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _send(self, call: Call[Any]) -> httpx.Response:
        try:
            response = await self.http.request(**self._request(call))
        except httpx.TransportError as exc:
            raise self._unreachable(call, exc) from exc
        return self._checked(call, response)

    async def pages(self, call: Paged[Any, I]) -> AsyncIterator[I]:
        """Every item of every page, one page in memory at a time."""
        next_call: Paged[Any, I] | None = call
        while next_call is not None:
            page = await self.send(next_call)
            for item in call.items(page):
                yield item
            next_call = next_call.next(page)

    async def stream(self, call: Call[Any], chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        """The answer's body as it arrives (an export): never all of it in memory."""
        request, started = self._request(call), False
        try:
            async with self.http.stream(**request) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_of(response, call.service)
                started = True
                async for chunk in response.aiter_bytes(chunk_size):
                    yield chunk
        except httpx.TransportError as exc:
            raise (cut_off(exc, call.service) if started else self._unreachable(call, exc)) from exc
