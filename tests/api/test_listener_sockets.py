"""No Nagle stall on the Scheduler API's connections, however its socket is made.

`syncd serve` and `syncd run --api` let uvicorn bind host:port (asyncio's create_server
makes the socket from getaddrinfo, protocol IPPROTO_TCP); a socket bound beforehand
(tests, the sandbox) comes from syncd.sockets.bind_tcp. Either way asyncio must see
IPPROTO_TCP to turn TCP_NODELAY on for each accepted connection, or each keep-alive
answer waits ~40 ms for the client's delayed ACK. Asserted: the socket option on the
server's side of a live connection, never a time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from syncd.api import create_app
from syncd.api.server import api_server_config
from syncd.config import ApiServerConfig
from syncd.sockets import bind_tcp
from tests.support import free_port, wait_until

from .fakes import FakeRuntime


def test_a_bound_socket_gives_each_accepted_connection_nodelay() -> None:
    async def accepted_option() -> tuple[int, int]:
        seen: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()

        class Report(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                option = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                seen.set_result((sock.proto, option))
                transport.close()

        server = await asyncio.get_running_loop().create_server(
            Report, sock=bind_tcp("127.0.0.1", 0)
        )
        async with server:
            port = server.sockets[0].getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            result = await asyncio.wait_for(seen, 10)
            writer.close()
            return result

    assert asyncio.run(accepted_option()) == (socket.IPPROTO_TCP, 1)


@pytest.fixture
def served_like_syncd_serve(fake: FakeRuntime) -> Iterator[tuple[uvicorn.Server, str]]:
    """The API with the uvicorn Config `syncd serve` builds, binding host:port itself."""
    port = free_port()
    config = api_server_config(
        create_app(fake), settings=ApiServerConfig(), host="127.0.0.1", port=port
    )
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the API server to start", 15)
    yield server, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_api_servers_connections_have_nodelay(
    served_like_syncd_serve: tuple[uvicorn.Server, str],
) -> None:
    server, url = served_like_syncd_serve
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        connections = list(server.server_state.connections)
        # One keep-alive connection for the three calls, Nagle off at the server's end.
        assert len(connections) == 1
        sock = connections[0].transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
