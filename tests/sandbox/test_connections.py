"""How the sandbox serves connections: keep-alive reused, and no Nagle stall on any of them.

The sandbox hands uvicorn a socket it binds itself (syncd.sockets.bind_tcp). asyncio sets
TCP_NODELAY only on accepted sockets whose protocol is IPPROTO_TCP; a listener made with
the default protocol 0 left Nagle on, and every keep-alive answer (headers, then body in
a second write) waited for the client's delayed ACK, about 40 ms on Linux. What is
asserted is the socket option on the server's side of each connection, not a time.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from syncd.graph.http import build_session
from syncd.sandbox import RunningSandbox, SandboxTenantSpec, start_sandbox
from tests.support import suite_clock, wait_until

from .helpers import GRAPH_SCOPE


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A sandbox of this module's own (the autouse reset uses it too), so the connections
    it holds are this module's only; the tenant has a Salesforce org on a second listener."""
    spec = SandboxTenantSpec("Contoso", "contoso.example", users=5, salesforce_events=0)
    state_dir: Path = tmp_path_factory.mktemp("sandbox-connections")
    with start_sandbox(state_dir=state_dir, tenants=[spec], clock=suite_clock()) as running:
        yield running


def _token(session: requests.Session, sandbox: RunningSandbox) -> str:
    _, client_id, secret = sandbox.credentials()
    answer = session.post(
        sandbox.token_endpoint(),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": GRAPH_SCOPE,
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _no_connections(sandbox: RunningSandbox) -> None:
    """Start from no open connection (the previous test's close may still be on its way)."""
    wait_until(lambda: not sandbox.connection_sockets(), "earlier connections to close", 10)
    wait_until(lambda: not sandbox.org().listener.connection_sockets(), "org connections", 10)


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_syncds_session_keeps_one_connection_and_the_sandbox_turns_nagle_off(
    sandbox: RunningSandbox,
) -> None:
    _no_connections(sandbox)
    mailbox = next(u.email for u in sandbox.tenant().users if u.has_mailbox)
    with build_session(sandbox.ca_file) as session:
        headers = {"Authorization": f"Bearer {_token(session, sandbox)}"}
        for _ in range(5):
            answer = session.get(f"{sandbox.graph_url}/users/{mailbox}/events", headers=headers)
            assert answer.status_code == 200, answer.text
        # The token and five Graph calls went over one keep-alive connection ...
        connections = sandbox.connection_sockets()
        assert len(connections) == 1
        # ... whose server side sends each write at once.
        assert _nodelay(connections[0]) == 1
        assert connections[0].proto == socket.IPPROTO_TCP


def test_the_salesforce_orgs_listener_turns_nagle_off_too(sandbox: RunningSandbox) -> None:
    _no_connections(sandbox)
    org = sandbox.org()
    with build_session(sandbox.ca_file) as session:
        # Any answer will do (this one is a 401): the connection is what is looked at.
        session.get(f"{org.base_url}/services/data/v62.0/limits")
        connections = org.listener.connection_sockets()
        assert len(connections) == 1
        assert _nodelay(connections[0]) == 1


def test_a_client_without_nodelay_still_gets_it_on_the_servers_side(
    sandbox: RunningSandbox,
) -> None:
    # http.client leaves Nagle on at its end; the server's end is the sandbox's business.
    _no_connections(sandbox)
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    connection = http.client.HTTPSConnection("127.0.0.1", sandbox.port, context=context)
    try:
        connection.request("GET", "/_sandbox/stats")
        connection.getresponse().read()
        [server_side] = sandbox.connection_sockets()
        assert _nodelay(server_side) == 1
    finally:
        connection.close()
