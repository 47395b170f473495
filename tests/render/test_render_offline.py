"""The network guards the render tests rely on really block the network."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from .support import NETWORK_MARKER


def test_in_process_connections_are_refused_and_recorded(no_network: list[str]) -> None:
    with pytest.raises(OSError, match=NETWORK_MARKER):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(OSError):
        sock.connect(("127.0.0.1", 9))
    assert len(no_network) == 2
    no_network.clear()  # the attempts were this test's own


def test_subprocess_connections_are_refused(offline_env: dict[str, str]) -> None:
    code = "import socket; socket.create_connection(('127.0.0.1', 9), timeout=1)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=offline_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert NETWORK_MARKER in done.stderr
