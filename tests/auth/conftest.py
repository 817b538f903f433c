"""Fixtures of the auth tests: a served app over a real ledger, with a clock the test moves.

Auth needs the ledger, the configuration and the clock, not Graph, so these
tests serve the app over a stand-in scheduler (see tests/api/fakes.py).
`serve_tenants(..., behind_proxy=True)` serves it the way `syncd serve` does
(syncd.api.server) with 127.0.0.1 listed in `[api] trusted_proxies`: a test then
speaks from any source address by sending `X-Forwarded-For`, as a proxy would.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from syncd.api import create_app
from syncd.api.server import api_server_config
from syncd.config import ApiServerConfig, TenantConfig
from syncd.sockets import bind_tcp
from tests.api.fakes import (
    FakeRuntime,
    MutableClock,
    fake_runtime,
    migrate_template,
    migrated_copy,
    serve,
    tenant,
)

MEETING = "/api/salesforce/scheduler/meeting"
AVAILABILITY = "/api/salesforce/scheduler/availability"
WINDOW = "from=2030-10-15T00:00:00Z&to=2030-10-16T00:00:00Z"


@dataclass
class Served:
    runtime: FakeRuntime
    clock: MutableClock
    url: str

    def client(self, source: str | None = None) -> httpx.Client:
        """A client; with `source`, one whose requests the proxy forwards from that address."""
        headers = {"X-Forwarded-For": source} if source else None
        return httpx.Client(base_url=self.url, timeout=10, headers=headers)


@contextmanager
def serve_like_syncd(app: Any, settings: ApiServerConfig) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 with the uvicorn Config `syncd serve` builds; yields its URL."""
    sock = bind_tcp("127.0.0.1", 0)  # TCP_NODELAY on each connection
    config = api_server_config(app, settings=settings, host="127.0.0.1", port=0)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def default_tenants() -> tuple[TenantConfig, ...]:
    return (
        tenant("demo", "contoso.example"),
        tenant("other", "fabrikam.example", hmac={"enabled": False}),
        tenant("nooauth", "nooauth.example", oauth=False),
    )


@pytest.fixture(scope="session")
def auth_ledger_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate_template(tmp_path_factory.mktemp("auth-ledger") / "template.db")


@pytest.fixture
def serve_tenants(auth_ledger_template: Path, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """serve_tenants(*tenants) -> Served; a fresh ledger and clock for each call."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def start(*tenants: TenantConfig, behind_proxy: bool = False) -> Served:
            target = tmp_path / f"ledger-{next(numbers)}.db"
            engine = migrated_copy(auth_ledger_template, target)
            stack.callback(engine.dispose)
            clock = MutableClock()
            runtime = fake_runtime(engine, *(tenants or default_tenants()), clock=clock)
            app = create_app(runtime)
            if behind_proxy:
                settings = ApiServerConfig(trusted_proxies=["127.0.0.1"])
                url = stack.enter_context(serve_like_syncd(app, settings))
            else:
                url = stack.enter_context(serve(app))
            return Served(runtime=runtime, clock=clock, url=url)

        yield start


@pytest.fixture
def served(serve_tenants: Callable[..., Served]) -> Served:
    return serve_tenants()
