"""Fixtures of the contract suite: every test runs once per backend (memory, sandbox, real).

The sandbox starts once for the package, with one tenant whose Salesforce org and
Microsoft 365 share their people; each test gets it back at defaults with no events.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.sandbox import RunningSandbox, SandboxTenantSpec, start_sandbox
from tests.contract import backends as b
from tests.support import suite_clock


@pytest.fixture(scope="package")
def contract_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    spec = SandboxTenantSpec(
        b.SANDBOX_TENANT, b.SANDBOX_DOMAIN, users=12, seed=5, salesforce_events=0
    )
    with start_sandbox(
        state_dir=tmp_path_factory.mktemp("contract-sandbox"), tenants=[spec], clock=suite_clock()
    ) as running:
        yield running


def _fresh(request: pytest.FixtureRequest) -> RunningSandbox:
    sandbox: RunningSandbox = request.getfixturevalue("contract_sandbox")
    sandbox.reset(events=True)
    return sandbox


@pytest.fixture(params=b.BACKENDS)
def graph(request: pytest.FixtureRequest) -> Iterator[b.GraphBackend]:
    """The Graph port of one backend, with mailboxes to use; test events removed after."""
    if request.param == "memory":
        backend = b.memory_graph(suite_clock())
    elif request.param == "sandbox":
        backend = b.sandbox_graph(_fresh(request))
    else:
        backend = b.real_graph()
    yield backend
    backend.cleanup()


@pytest.fixture(params=b.BACKENDS)
def salesforce(request: pytest.FixtureRequest) -> Iterator[b.SalesforceBackend]:
    """The Salesforce port of one backend and how to make Events there."""
    if request.param == "memory":
        clock = suite_clock()
        clock.freeze()
        backend = b.memory_salesforce(clock)
    elif request.param == "sandbox":
        backend = b.sandbox_salesforce(_fresh(request))
    else:
        backend = b.real_salesforce()
    yield backend
    backend.cleanup()
