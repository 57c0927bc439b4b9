"""The real services' apps behind the command line's sync client, without sockets.

The apps run on the test's event loop, as the other service tests run them; the
command runs in a worker thread, and each of its requests is handed to the app whose
port it names (8001-8005, the default profile's URLs) on that loop. Nothing listens on
those ports, so other stacks on this machine are neither used nor disturbed.
"""

import asyncio
from collections.abc import Mapping

import httpx
from starlette.types import ASGIApp

from client.call import DEFAULT_PORTS


class AppsTransport(httpx.BaseTransport):
    """Sends each request to the app of its port, on ``loop``."""

    def __init__(self, apps: Mapping[str, ASGIApp], loop: asyncio.AbstractEventLoop) -> None:
        self.by_port = {
            DEFAULT_PORTS[name]: httpx.ASGITransport(app=app)  # type: ignore[index]
            for name, app in apps.items()
        }
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.by_port.get(request.url.port or 80)
        if transport is None:
            raise httpx.ConnectError("nothing listens there", request=request)
        request.read()

        async def send() -> httpx.Response:
            response = await transport.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=60)
