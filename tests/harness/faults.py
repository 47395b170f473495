"""A TCP port in front of a real service that a test can make misbehave.

`FaultProxy` listens on a loopback port of its own and, while it is in `forward` mode, relays
every connection to the service behind it. A test points the project at the proxy's port and
then switches modes under traffic:

- `black_hole()`: the port still accepts connections, and nothing is relayed any more, on new
  connections or open ones: clients wait, as with a hung service or a network path that drops
  packets. The hardest fault for a client: only its own timeouts end the wait.
- `refuse()`: the port is closed and every open connection reset, as with a stopped service.
- `forward()`: back to normal, on the same port.

Threads, not asyncio: a proxy of a few dozen connections for a few seconds, driven from a
synchronous test.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from collections.abc import Callable
from typing import Literal, Self

Mode = Literal["forward", "black-hole", "refuse"]

#: How often the threads look at the mode and the stop flag.
TICK_S = 0.05


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self.mode: Mode = "forward"
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- modes -------------------------------------------------------------------------

    def start(self) -> Self:
        self._listen()
        return self

    def forward(self) -> None:
        self.mode = "forward"
        self._listen()

    def black_hole(self) -> None:
        self.mode = "black-hole"
        self._listen()

    def refuse(self) -> None:
        self.mode = "refuse"
        self._close_listener()
        self._reset_connections()

    def stop(self) -> None:
        self._stopped.set()
        self._close_listener()
        self._reset_connections()
        for thread in self._threads:
            thread.join(timeout=2)

    # -- internals -----------------------------------------------------------------------

    def _listen(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))  # the same port again after refuse()
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = self._spawn(self._accept_loop, listener)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        listener.close()
        # The accept thread's select() holds the socket open until it returns: only then does
        # the port refuse connections.
        if self._accepting is not None:
            self._accepting.join(timeout=2)

    def _reset_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                # SO_LINGER 0: close with a reset, as a host whose service died would answer.
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopped.is_set() and self._listener is listener:
            ready, _, _ = select.select([listener], [], [], TICK_S)
            if not ready:
                continue
            try:
                client, _ = listener.accept()
            except OSError:  # closed by refuse() or stop()
                return
            self._track(client)
            if self.mode != "forward":
                continue  # held open, never read: a black hole
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            self._track(upstream)
            self._spawn(self._relay, client, upstream)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions of one connection, while the mode is `forward`; in `black-hole`
        mode the bytes stay where they are and both ends wait."""
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopped.is_set():
                if self.mode != "forward":
                    if self.mode == "refuse":
                        return
                    self._stopped.wait(TICK_S)
                    continue
                ready, _, _ = select.select(list(peers), [], [], TICK_S)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
        except (OSError, ValueError):  # ValueError: select() on an end already closed (fd -1)
            return
        finally:
            for end in (client, upstream):
                with self._lock:
                    self._connections.discard(end)
                end.close()
