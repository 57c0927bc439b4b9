"""deploy/local/services.sh starts a service killed a moment ago, whose pid is still a
zombie, and stops what it started.

The service runs from a state directory of its own, on a free port and a schema of its
own (``SERVICES``, ``PORT_OFFSET``, ``CONSENT_DB_SCHEMA``), beside any stack already up.
"""

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, drop_topics, topic_prefix, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.fault]
SCRIPT = ROOT / "deploy/local/services.sh"
CONSENT_PORT = 8002
PR_SET_CHILD_SUBREAPER = 36


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def script(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=150
    )


def state_of(pid: int) -> str:
    """The process's state letter (Z: a zombie), or "" once it is reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (FileNotFoundError, ProcessLookupError):
        return ""


def reap(pids: list[int]) -> None:
    """Reap the stopped services: this process is their parent, and they are zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def reaping_late() -> Iterator[None]:
    """Orphans of this process's children become its children, and it does not reap
    them: a service killed -9 stays a zombie, as under a PID 1 that reaps late."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("this kernel has no PR_SET_CHILD_SUBREAPER")
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


async def test_start_starts_a_service_killed_a_moment_ago_whose_pid_is_a_zombie(
    tmp_path: Path, schema_factory: Callable[[str], str]
) -> None:
    schema = schema_factory("consent")
    prefix = topic_prefix("t_script")
    port = free_port()
    env = {
        **os.environ,
        "PRIVACY_LOCAL_DIR": str(tmp_path),
        "SERVICES": "consent",
        "PORT_OFFSET": str(port - CONSENT_PORT),
        "CONSENT_DB_SCHEMA": schema,
        "CONSENT_LOG_JSON": "true",
        "TOPIC_PREFIX": prefix,
    }
    pidfile = tmp_path / "run" / "consent.pid"
    pids: list[int] = []
    with reaping_late():
        try:
            started = await asyncio.to_thread(script, "start", env)
            assert started.returncode == 0, started.stderr
            pids.append(int(pidfile.read_text()))
            os.kill(pids[0], signal.SIGKILL)

            async def zombie() -> bool:
                return state_of(pids[0]) == "Z"

            await wait_until(zombie, 5, "the killed service to be a zombie")
            restarted = await asyncio.to_thread(script, "start", env)
            assert restarted.returncode == 0, restarted.stderr
            pids.append(int(pidfile.read_text()))
            status = await asyncio.to_thread(script, "status", env)

            assert pids[1] != pids[0]
            assert status.stdout.startswith(f"consent:    ready (pid {pids[1]})"), status.stdout
        finally:
            stopped = await asyncio.to_thread(script, "stop", env)
            reap(pids)
            await drop_topics(prefix)
    assert stopped.returncode == 0, stopped.stderr
    assert (await asyncio.to_thread(script, "status", env)).stdout == "consent:    stopped\n"
