"""Fixtures: one sandbox per test session (two tenants), reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from syncd.sandbox import RunningSandbox, SandboxTenantSpec, start_sandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph, fetch_token, make_session


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    specs = [
        SandboxTenantSpec("Contoso", "contoso.example", users=25, seed=42),
        SandboxTenantSpec("Fabrikam", "fabrikam.example", users=6, seed=7),
    ]
    with start_sandbox(state_dir=tmp_path_factory.mktemp("sandbox"), tenants=specs) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox: RunningSandbox) -> Iterator[None]:
    sandbox.reset(events=True)
    yield
    sandbox.reset(events=True)


@pytest.fixture
def http(sandbox: RunningSandbox) -> Iterator[requests.Session]:
    session = make_session(sandbox)
    yield session
    session.close()


@pytest.fixture
def graph(http: requests.Session, sandbox: RunningSandbox) -> Graph:
    return Graph(http, sandbox, fetch_token(http, sandbox))


@pytest.fixture
def people(sandbox: RunningSandbox) -> list[DirectoryUser]:
    """Contoso users that have a mailbox."""
    return [u for u in sandbox.tenant("Contoso").users if u.has_mailbox]
