"""The helpers the tests and the benchmarks share (devtools)."""

import socket

import pytest

from devtools.stack import free_port, start_service


def test_a_free_port_can_be_listened_on() -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))


def test_start_service_returns_once_the_service_answers() -> None:
    port = free_port()
    server = start_service(
        "http.server", port, args=[str(port), "--bind", "127.0.0.1"], ready_path="/"
    )
    try:
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(10)


def test_start_service_says_so_when_the_process_dies_before_it_is_ready() -> None:
    with pytest.raises(RuntimeError, match="exited with status 1"):
        start_service("devtools.no_such_module", free_port(), timeout=30)
