"""A service's app served in the test's own process, with its runtime at hand."""

import httpx
from fastapi import FastAPI

from shared.runtime import Job, Runtime


class AppClient(httpx.AsyncClient):
    """An HTTP client on an app in this process, which keeps the app: tests reach the
    runtime's periodic jobs through it, to wait for their rounds."""

    def __init__(self, app: FastAPI, base_url: str) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url=base_url)
        self.app = app

    @property
    def runtime(self) -> Runtime:
        """The running service's runtime."""
        runtime = getattr(self.app.state, "runtime", None)
        assert isinstance(runtime, Runtime), "the app is not running"
        return runtime

    def job(self, name: str) -> Job:
        """The periodic job the service started as ``name``."""
        return self.runtime.jobs[name]

    async def rounds(self, name: str, n: int = 2, *, within: float = 30.0) -> None:
        """Wait until the job ``name`` ran ``n`` rounds begun after this call: what a test
        waits for before asserting that the job did *not* do something."""
        await self.job(name).wait_rounds(n, within=within)
