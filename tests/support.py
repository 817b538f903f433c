"""Helpers shared by the tests (constants, config writer, a threaded server)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.server import RunningSandbox
from syncd.sockets import bind_tcp

#: The seed page's sample addresses were scraped as this literal (no "@"); the
#: "seed" tenant maps it to a real mailbox with an address alias, so the
#: samples run byte for byte.
SEED_LITERAL = "[email protected]"
SEED_MAILBOX = "seed.sample@seed.example"

TENANTS = {
    "demo": ("contoso.example", 25, 42),
    "seed": ("seed.example", 3, 7),
    "acme": ("fabrikam.example", 10, 9),
}


#: Tests build their dates from the sandbox clock, and the sandbox clock starts here, not at
#: the machine's date: the suite passes on any day. `SYNCD_TEST_NOW` (an ISO 8601 instant)
#: moves it; .ci/run runs the date-sensitive suites at a leap day, both DST changes and a
#: year's end.
TEST_NOW_VARIABLE = "SYNCD_TEST_NOW"
DEFAULT_TEST_NOW = datetime(2027, 5, 19, 9, 30, tzinfo=UTC)


def suite_now() -> datetime:
    """The instant the tests' sandbox clocks start at."""
    raw = os.environ.get(TEST_NOW_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TEST_NOW
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{TEST_NOW_VARIABLE}={raw!r} needs an offset, e.g. 2028-02-29T12:00:00Z")
    return parsed.astimezone(UTC)


def suite_clock() -> SandboxClock:
    """A sandbox clock that starts at `suite_now()` and runs from there."""
    return SandboxClock(start=suite_now())


def write_test_config(directory: Path, *, extra_tenant_toml: dict[str, str] | None = None) -> Path:
    """A config dir with the three sandbox tenants (plus optional per-tenant TOML)."""
    from tests.harness import SandboxTenant, write_config  # the harness imports this module

    tenants = []
    for name, (domain, users, seed) in TENANTS.items():
        extra = (extra_tenant_toml or {}).get(name, "")
        if name == "seed":
            extra += f'\naddress_aliases = {{ "{SEED_LITERAL}" = "{SEED_MAILBOX}" }}\n'
        tenants.append(SandboxTenant(name, domain, seed=seed, users=users, extra=extra))
    return write_config(directory, *tenants)


def users_of(sandbox: RunningSandbox, tenant: str) -> list[str]:
    """In-org addresses with a mailbox, in directory order."""
    return [u.email for u in sandbox.tenant(tenant).users if u.has_mailbox]


class ThreadedServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: object) -> None:
        self.sock = bind_tcp("127.0.0.1", 0)  # TCP_NODELAY on each connection
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll `condition` until it is truthy and return its value; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SpyGraph:
    """Calls the real Graph client and records each call; can fail on purpose.

    A spy (not a mock): every call still reaches the sandbox over HTTPS. The
    failure hooks stand in for what no sandbox can show on demand: a process
    dying, or a response lost on the way back, at an exact point.
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail_before: dict[str, Exception] = {}
        self.fail_after: dict[str, Exception] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        target = getattr(self.real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if name in self.fail_before:
                raise self.fail_before.pop(name)
            result = target(*args, **kwargs)
            if name in self.fail_after:
                raise self.fail_after.pop(name)
            return result

        return call

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]
