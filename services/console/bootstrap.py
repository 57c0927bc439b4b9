"""The console's runtime: where the services answer and one pool of connections to them.

The console keeps no data and has no schema or broker; every page asks the services
with the signed-in person's own token, so who may see what stays decided there.
"""

from dataclasses import dataclass

import httpx
from fastapi import Request

from client import AsyncClient, ServiceUrls
from services.console.config import ConsoleSettings


@dataclass
class ConsoleRuntime:
    """The settings, the services' addresses and the pooled transport every call uses."""

    settings: ConsoleSettings
    urls: ServiceUrls
    transport: httpx.AsyncBaseTransport

    def client(self, token: str | None) -> AsyncClient:
        """A client sending ``token``; it shares the runtime's connections (never closed
        per request: closing it would close the pool)."""
        return AsyncClient(
            self.urls,
            token=token,
            timeout=self.settings.call_timeout_seconds,
            transport=self.transport,
        )

    async def stop(self) -> None:
        """Close the pooled connections."""
        await self.transport.aclose()


def bootstrap(
    settings: ConsoleSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> ConsoleRuntime:
    """The runtime; tests pass a transport that fakes the services or serves their apps."""
    return ConsoleRuntime(
        settings=settings,
        urls=ServiceUrls(settings.service_urls()),
        transport=transport or httpx.AsyncHTTPTransport(retries=0),
    )


def runtime_of(request: Request) -> ConsoleRuntime:
    """The running console's runtime."""
    runtime: ConsoleRuntime = request.app.state.runtime
    return runtime
