"""Fixtures: one TLS server per session; a fresh org, state and simple-salesforce per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.salesforce import (
    SalesforceOrg,
    SalesforceState,
    build_org,
    build_salesforce_app,
    build_salesforce_state,
)

from .helpers import T0, TlsServer, make_session

API_VERSION = "59.0"


@pytest.fixture(scope="session")
def sf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path_factory.mktemp("salesforce-tls"))
    yield server
    server.stop()


@pytest.fixture
def clock() -> SandboxClock:
    clock = SandboxClock()
    clock.freeze(T0)
    return clock


@pytest.fixture
def org(clock: SandboxClock) -> SalesforceOrg:
    """Five users (plus the integration user), a few contacts and leads, no events."""
    return build_org(users=5, contacts=4, leads=2, events=0, seed=7, clock=clock)


@pytest.fixture
def state(org: SalesforceOrg, sf_server: TlsServer) -> SalesforceState:
    state = build_salesforce_state(org)
    sf_server.switch.app = build_salesforce_app(state)
    return state


@pytest.fixture
def http(sf_server: TlsServer) -> Iterator[requests.Session]:
    session = make_session(sf_server.tls.ca_file)
    yield session
    session.close()


@pytest.fixture
def token(state: SalesforceState) -> str:
    assert state.org.integration_username is not None
    return state.auth.open_session(state.org.integration_username)


@pytest.fixture
def sf(sf_server: TlsServer, http: requests.Session, token: str) -> Salesforce:
    """simple-salesforce in direct mode, over the test server's TLS."""
    return Salesforce(
        instance_url=sf_server.base_url, session_id=token, session=http, version=API_VERSION
    )


@pytest.fixture
def users(org: SalesforceOrg) -> list[str]:
    """Ids of the generated (non-integration) users."""
    integration = org.find_user(org.integration_username or "")
    return [i for i in org.ids_of("User") if i != integration]
