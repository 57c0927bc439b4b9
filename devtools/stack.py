"""Where the local stack is, and processes started against it."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from shared.settings import DEFAULT_DATABASE_URL, DEFAULT_KAFKA

ROOT = Path(__file__).resolve().parents[1]
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def unique(prefix: str) -> str:
    """A name no earlier run used: test schemas, topics and consumer groups."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(
    url: str, *, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers 200; TimeoutError after ``timeout`` seconds.

    With ``process``, stop early (RuntimeError) if it exits before it is ready.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before {url} answered")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


def start_service(
    module: str,
    port: int,
    env: Mapping[str, str] | None = None,
    *,
    args: Sequence[str] = (),
    ready_path: str = "/readyz",
    timeout: float = 60.0,
) -> subprocess.Popen[bytes]:
    """Run ``python -m module *args`` from the checkout; return once ``ready_path`` answers 200.

    The process is terminated if it does not become ready in time.
    """
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}{ready_path}", timeout=timeout, process=process)
    except BaseException:
        process.terminate()
        process.wait(10)
        raise
    return process


async def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> None:
    """Poll an async or sync predicate until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.1)
