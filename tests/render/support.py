"""Helpers shared by the render tests (fixtures live in conftest.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scalekit_gen.blueprint import AnswerLayer, Blueprint, build_blueprint
from scalekit_gen.render import RenderResult

PROJECT_NAME = "Acme Shop"
NETWORK_MARKER = "scalekit-render-tests: network blocked"
_INET = (socket.AF_INET, socket.AF_INET6)

# render(blueprint, name="p") -> (project root, RenderResult); the `render` fixture.
RenderFn = Callable[..., tuple[Path, RenderResult]]


class NetworkBlockedError(OSError):
    """What an offline machine would say, so code that copes with being offline still can."""


@contextmanager
def block_network() -> Iterator[list[str]]:
    """Refuse every internet connection; yields the list of attempts made meanwhile."""
    attempts: list[str] = []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def refuse(what: str) -> NetworkBlockedError:
        attempts.append(what)
        return NetworkBlockedError(f"{NETWORK_MARKER}: {what}")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in _INET:
            raise refuse(f"connect {address!r}")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in _INET:
            raise refuse(f"connect_ex {address!r}")
        return original_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        raise refuse(f"create_connection {address!r}")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise refuse(f"getaddrinfo {host!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "create_connection", create_connection)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield attempts


SITECUSTOMIZE = f'''
"""Installed by the scalekit render tests: this interpreter has no network."""
import socket
import sys

_INET = (socket.AF_INET, socket.AF_INET6)
_connect = socket.socket.connect


def _refuse(what):
    print("{NETWORK_MARKER}: " + what, file=sys.stderr, flush=True)
    return OSError("{NETWORK_MARKER}: " + what)


def _guarded_connect(self, address):
    if self.family in _INET:
        raise _refuse("connect %r" % (address,))
    return _connect(self, address)


def _create_connection(address, *args, **kwargs):
    raise _refuse("create_connection %r" % (address,))


def _getaddrinfo(host, *args, **kwargs):
    raise _refuse("getaddrinfo %r" % (host,))


socket.socket.connect = _guarded_connect
socket.create_connection = _create_connection
socket.getaddrinfo = _getaddrinfo
'''


def blueprint_for(values: dict[str, Any] | None = None, *layers: AnswerLayer) -> Blueprint:
    """Catalog defaults, then `layers`, then `values` (the project name included)."""
    given = {"project_name": PROJECT_NAME, **(values or {})}
    return build_blueprint([*layers, AnswerLayer("render test", given)])
