"""Fixtures of the auth tests: a served app over a real ledger, with a clock the test moves.

Auth needs the ledger, the configuration and the clock, not Graph, so these
tests serve the app over a stand-in scheduler (see tests/api/fakes.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from syncd.api import create_app
from syncd.config import TenantConfig
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

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


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

        def start(*tenants: TenantConfig) -> Served:
            target = tmp_path / f"ledger-{next(numbers)}.db"
            engine = migrated_copy(auth_ledger_template, target)
            stack.callback(engine.dispose)
            clock = MutableClock()
            runtime = fake_runtime(engine, *(tenants or default_tenants()), clock=clock)
            url = stack.enter_context(serve(create_app(runtime)))
            return Served(runtime=runtime, clock=clock, url=url)

        yield start


@pytest.fixture
def served(serve_tenants: Callable[..., Served]) -> Served:
    return serve_tenants()
