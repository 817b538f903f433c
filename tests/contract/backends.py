"""The three backends the contract suite runs on: the fakes, the sandbox, a real tenant.

- memory: MemoryGraph and MemorySalesforce, in-process;
- sandbox: syncd's GraphClient (msal + requests) and SalesforceClient (simple-salesforce)
  against the built-in sandbox over HTTPS, as tests/graph and tests/sync_e2e start it;
- real: opt-in. `SYNCD_CONTRACT_TENANT` names a tenant TOML file (provider
  "microsoft"), `SYNCD_CONTRACT_ORGANIZER` and `SYNCD_CONTRACT_ATTENDEE` two mailboxes
  of that tenant the suite may put test meetings in (it deletes them afterwards), and
  `SYNCD_CONTRACT_SF_OWNER` the e-mail of a Salesforce User to own test Events.

Each backend also says how a test sets up data on its side (`SalesforceSeeder`): the
fakes and the sandbox through the org's Python API (people editing Salesforce), a
real org through its REST API.
"""

from __future__ import annotations

import contextlib
import os
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceError

from syncd.config import TenantConfig
from syncd.domain import SyncdError
from syncd.graph import GraphClient, MsalTokenProvider, build_session
from syncd.graph.auth import token_provider_from_config
from syncd.salesforce import ClientCredentialsLogin, SalesforceClient, client_from_config
from syncd.salesforce import build_session as build_salesforce_session
from syncd.salesforce.login import login_from_config
from syncd.sandbox import RunningSandbox
from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.salesforce import SalesforceOrg
from tests.fakes import MemoryGraph, MemorySalesforce

TENANT_VARIABLE = "SYNCD_CONTRACT_TENANT"
ORGANIZER_VARIABLE = "SYNCD_CONTRACT_ORGANIZER"
ATTENDEE_VARIABLE = "SYNCD_CONTRACT_ATTENDEE"
SF_OWNER_VARIABLE = "SYNCD_CONTRACT_SF_OWNER"
BACKENDS = ("memory", "sandbox", "real")
SANDBOX_TENANT = "contract"
SANDBOX_DOMAIN = "contract.example"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: A well-formed event id no mailbox holds.
MISSING_EVENT_ID = "AAMkAmissingAAA="


@dataclass
class GraphBackend:
    """A Graph port and the mailboxes a test may use on it."""

    name: str
    port: Any
    organizer: str
    attendee: str
    #: an in-org user without a mailbox (None: the backend has none to offer)
    no_mailbox: str | None
    #: the time zone each mailbox is set up with (None: not known in advance)
    zone_of: Callable[[str], str | None]
    #: makes each test's transactionIds and keys new on a real tenant, fixed elsewhere
    nonce: str = "0"
    #: drops a mailbox's calendarView delta tokens (None: the backend cannot be told to)
    expire_delta: Callable[[str], object] | None = None
    created: list[tuple[str, str]] = field(default_factory=list)

    @property
    def unknown(self) -> str:
        return f"nobody.{self.nonce}@{self.organizer.rsplit('@', 1)[1]}"

    def create(self, mailbox: str, payload: dict[str, Any]) -> dict[str, Any]:
        event = self.port.create_event(mailbox, payload)
        self.created.append((mailbox, str(event["id"])))
        return dict(event)

    def cleanup(self) -> None:
        for mailbox, event_id in self.created:
            with contextlib.suppress(SyncdError):  # the test itself cancelled or deleted it
                self.port.delete_event(mailbox, event_id)


@dataclass
class SalesforceSeeder:
    """How a test makes and removes Events on one backend, and moves its clock."""

    owner: str
    create_event: Callable[[str, datetime, datetime], str]
    delete_event: Callable[[str], object]
    now: Callable[[], datetime]
    advance: Callable[[float], object]
    #: builds many Events at once for the paging test (None: too costly here)
    create_many: Callable[[int, datetime], list[str]] | None = None


@dataclass
class SalesforceBackend:
    name: str
    port: Any
    seed: SalesforceSeeder
    created: list[str] = field(default_factory=list)

    def create_event(self, subject: str, start: datetime) -> str:
        event_id = self.seed.create_event(subject, start, start + timedelta(minutes=30))
        self.created.append(event_id)
        return event_id

    def cleanup(self) -> None:
        for event_id in self.created:
            # KeyError: the org's Python API, already deleted; SalesforceError: a real org.
            with contextlib.suppress(KeyError, SalesforceError):
                self.seed.delete_event(event_id)


# -------------------------------------------------------------------- memory
def memory_graph(clock: SandboxClock) -> GraphBackend:
    graph = MemoryGraph(clock.now)
    organizer, attendee = f"olivia@{SANDBOX_DOMAIN}", f"arthur@{SANDBOX_DOMAIN}"
    graph.add_user(organizer, time_zone="W. Europe Standard Time")
    graph.add_user(attendee, time_zone="Pacific Standard Time")
    graph.add_user(f"nomail@{SANDBOX_DOMAIN}", has_mailbox=False)

    def zone_of(address: str) -> str | None:
        return graph.users[address.lower()].time_zone

    return GraphBackend(
        "memory",
        graph,
        organizer,
        attendee,
        f"nomail@{SANDBOX_DOMAIN}",
        zone_of,
        expire_delta=graph.delta.expire,
    )


def memory_salesforce(clock: SandboxClock) -> SalesforceBackend:
    fake = MemorySalesforce(clock)
    owner = f"olivia@{SANDBOX_DOMAIN}"
    fake.org.add_user(owner)
    return SalesforceBackend("memory", fake, org_seeder(fake.org, clock, owner))


# ------------------------------------------------------------------- sandbox
def sandbox_graph(sandbox: RunningSandbox) -> GraphBackend:
    _, client_id, secret = sandbox.credentials(SANDBOX_TENANT)
    session = build_session(Path(sandbox.ca_file))
    tokens = MsalTokenProvider(
        authority=sandbox.authority(SANDBOX_TENANT),
        client_id=client_id,
        credential=secret,
        session=session,
        scopes=[GRAPH_SCOPE],
        is_microsoft_cloud=False,
    )
    client = GraphClient(
        graph_url=sandbox.graph_url, tokens=tokens, session=session, sleep=lambda _: None
    )
    users = sandbox.tenant(SANDBOX_TENANT).users
    with_mailbox = [u for u in users if u.has_mailbox]
    without = next((u.email for u in users if not u.has_mailbox), None)
    zones = {u.email.lower(): u.time_zone for u in users}
    ids = {u.email.lower(): u.id for u in users}
    backend = GraphBackend(
        "sandbox",
        client,
        with_mailbox[0].email,
        with_mailbox[1].email,
        without,
        lambda address: zones.get(address.lower()),
        expire_delta=lambda address: sandbox.delta.expire(ids[address.lower()]),
    )
    return backend


def sandbox_salesforce(sandbox: RunningSandbox) -> SalesforceBackend:
    endpoint = sandbox.org(SANDBOX_TENANT)
    session = build_salesforce_session(Path(sandbox.ca_file))
    login = ClientCredentialsLogin(
        login_url=endpoint.login_url,
        client_id=endpoint.client_id,
        client_secret=endpoint.client_secret,
        session=session,
    )
    client = SalesforceClient(
        login=login, session=session, sleep=lambda _: None, clock=sandbox.clock.now
    )
    owner = next(u.email for u in sandbox.tenant(SANDBOX_TENANT).users if u.has_mailbox)
    return SalesforceBackend("sandbox", client, org_seeder(endpoint.org, sandbox.clock, owner))


def org_seeder(org: SalesforceOrg, clock: SandboxClock, owner: str) -> SalesforceSeeder:
    """Events made and deleted as people do in Salesforce (the sandbox org's Python API)."""

    def create(subject: str, start: datetime, end: datetime) -> str:
        return str(org.create_event(owner, subject, start, end))

    def create_many(count: int, start: datetime) -> list[str]:
        return [create(f"Paged {n}", start, start + timedelta(minutes=30)) for n in range(count)]

    return SalesforceSeeder(
        owner=owner,
        create_event=create,
        delete_event=org.delete_event,
        now=clock.now,
        advance=clock.advance,
        create_many=create_many,
    )


# ---------------------------------------------------------------------- real
def real_tenant() -> TenantConfig:
    """The tenant `SYNCD_CONTRACT_TENANT` names, or a skip saying how to opt in."""
    path = os.environ.get(TENANT_VARIABLE, "").strip()
    if not path:
        pytest.skip(
            f"the real-tenant contract run is opt-in: set {TENANT_VARIABLE} to a tenant TOML "
            f"file (provider = 'microsoft'), plus {ORGANIZER_VARIABLE}, {ATTENDEE_VARIABLE} "
            f"and {SF_OWNER_VARIABLE}"
        )
    data = tomllib.loads(Path(path).read_text())
    data.setdefault("name", Path(path).stem)
    return TenantConfig.model_validate(data)


def _required(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        pytest.skip(f"{variable} is not set (needed with {TENANT_VARIABLE})")
    return value


def real_graph() -> GraphBackend:
    tenant = real_tenant()
    assert tenant.microsoft is not None
    session = build_session(tenant.microsoft.ca_file)
    client = GraphClient(
        graph_url=tenant.microsoft.graph_url,
        tokens=token_provider_from_config(tenant.microsoft, session),
        session=session,
    )
    return GraphBackend(
        "real",
        client,
        _required(ORGANIZER_VARIABLE),
        _required(ATTENDEE_VARIABLE),
        None,
        lambda _: None,
        nonce=uuid.uuid4().hex[:12],
    )


def real_salesforce() -> SalesforceBackend:
    from simple_salesforce import Salesforce, format_soql

    tenant = real_tenant()
    login_config = tenant.salesforce.login
    assert login_config is not None
    client = client_from_config(login_config)
    session = build_salesforce_session(login_config.ca_file)
    login = login_from_config(login_config, session).login()
    rest: Any = Salesforce(
        instance_url=login.instance_url,
        session_id=login.access_token,
        session=session,
        version=login_config.api_version,
    )
    owner = _required(SF_OWNER_VARIABLE)
    users = rest.query(format_soql("SELECT Id FROM User WHERE Email = {} LIMIT 1", owner))[
        "records"
    ]
    if not users:
        pytest.skip(f"no Salesforce User with e-mail {owner}")

    def create(subject: str, start: datetime, end: datetime) -> str:
        body = {
            "OwnerId": users[0]["Id"],
            "Subject": subject,
            "StartDateTime": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "EndDateTime": end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        return str(rest.Event.create(body)["id"])

    def advance(seconds: float) -> None:
        time.sleep(seconds)  # a real org's clock moves on its own

    seeder = SalesforceSeeder(
        owner=owner,
        create_event=create,
        delete_event=lambda event_id: rest.Event.delete(event_id),
        now=lambda: datetime.now(UTC),
        advance=advance,
    )
    return SalesforceBackend("real", client, seeder)
