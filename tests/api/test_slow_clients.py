"""Slow-header clients cannot hold the API server: 200 connections trickling a request
head one byte at a time, against the server `syncd serve` builds (with a 1 s header
timeout and a cap of 50 connections, to keep the test short).

The server keeps at most its cap of connections open, a normal client is served while
the trickle goes on, and every slow connection is closed. Against plain uvicorn the
slow connections stay open as long as they trickle, and all 200 are held.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from syncd.api.app import create_app
from syncd.api.server import api_server_config
from syncd.config import ApiServerConfig
from syncd.runtime import Runtime
from syncd.sockets import bind_tcp
from tests.support import wait_until

SLOW_CLIENTS = 200
CAP = 50
#: A request head that never ends (no blank line), sent one byte at a time.
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000


@pytest.fixture
def server(runtime: Runtime) -> Iterator[tuple[uvicorn.Server, str]]:
    settings = ApiServerConfig(header_timeout_seconds=1.0, max_connections=CAP)
    sock = bind_tcp("127.0.0.1", 0)  # TCP_NODELAY on each connection
    port = sock.getsockname()[1]
    config = api_server_config(create_app(runtime), settings=settings, host="127.0.0.1", port=port)
    config.lifespan = "off"
    made = uvicorn.Server(config)
    thread = threading.Thread(target=made.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: made.started, "the API server to start", 15)
    yield made, f"http://127.0.0.1:{port}"
    made.should_exit = True
    thread.join(10)
    sock.close()


def open_connections(server: uvicorn.Server) -> int:
    """Connections the server holds and has not begun to close."""
    held: list[Any] = list(server.server_state.connections)
    return sum(1 for c in held if not c.transport.is_closing())


class Trickle:
    """Slow clients: each sends the next byte of HEAD every `pause` seconds."""

    def __init__(self, server: uvicorn.Server, url: str, count: int, pause: float = 0.2) -> None:
        self.server = server
        self.peak = 0  # the most connections the server was seen to hold
        host, port = url.removeprefix("http://").split(":")
        self.sockets: list[socket.socket] = []
        for _ in range(count):
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(HEAD[:1])
            self.sockets.append(client)
            self.peak = max(self.peak, open_connections(server))
        self.sent = {id(s): 1 for s in self.sockets}
        self.closed: set[int] = set()
        self.pause = pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, open_connections(self.server))
            for client in self.sockets:
                if id(client) in self.closed:
                    continue
                try:
                    client.sendall(HEAD[self.sent[id(client)] : self.sent[id(client)] + 1])
                    self.sent[id(client)] += 1
                except OSError:  # the server closed it
                    self.closed.add(id(client))
            self._stop.wait(self.pause)

    def still_open(self) -> int:
        """Slow connections the server has not closed (as the clients see it)."""
        for client in self.sockets:
            if id(client) in self.closed:
                continue
            client.setblocking(False)
            try:
                if client.recv(1) == b"":
                    self.closed.add(id(client))
            except BlockingIOError:
                pass  # open, nothing to read
            except OSError:
                self.closed.add(id(client))
        return len(self.sockets) - len(self.closed)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for client in self.sockets:
            client.close()


def test_slow_header_clients_are_cut_off_and_a_normal_client_is_served(
    server: tuple[uvicorn.Server, str],
) -> None:
    api, url = server
    trickle = Trickle(api, url, SLOW_CLIENTS)
    try:
        # While they trickle: a normal client is answered...
        answer = httpx.get(url + "/healthz", timeout=10)
        assert answer.status_code == 200, answer.text
        # ...the server never holds more than its cap (it shed the rest at once)...
        wait_until(lambda: trickle.still_open() <= CAP, "the server to shed connections", 10)
        # ...and a head that is still unfinished after the timeout costs its connection.
        wait_until(lambda: trickle.still_open() == 0, "every slow connection to be closed", 20)
        assert open_connections(api) <= 1
        # A newcomer is accepted before the oldest unfinished head is shed for it, so a
        # look from this thread can land between the two: the cap plus that one.
        assert trickle.peak <= CAP + 1, f"the server held {trickle.peak} connections"
        assert all(trickle.sent[id(s)] < len(HEAD) for s in trickle.sockets)
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
    finally:
        trickle.stop()
