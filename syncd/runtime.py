"""Wires configuration into running parts: ledger, Graph clients, schedulers.

This is the edge where I/O objects are built; everything it builds is handed
on explicitly (no globals), so tests build a runtime of their own.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import Engine

from syncd.config import (
    DEFAULT_API_VERSION,
    ConfigError,
    LoadedConfig,
    ProcessRole,
    TenantConfig,
)
from syncd.core.scheduler import Scheduler
from syncd.domain import ErrorCode, SyncdError
from syncd.graph.auth import MsalTokenProvider, TokenProvider, token_provider_from_config
from syncd.graph.client import GraphClient
from syncd.graph.http import build_session
from syncd.ledger.db import ensure_migrated, make_engine, private_directory
from syncd.ledger.meeting_locks import meeting_locks_for
from syncd.salesforce import ClientCredentialsLogin, SalesforceClient
from syncd.salesforce import build_session as build_salesforce_session
from syncd.salesforce.login import Login, login_from_config
from syncd.sync.service import SyncService

if TYPE_CHECKING:  # the sandbox is imported only when a tenant uses it
    from syncd.sandbox.clock import SandboxClock

log = logging.getLogger(__name__)

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]


@dataclass(frozen=True)
class SandboxConnection:
    """How to reach a sandbox Microsoft 365: its URLs, CA and per-tenant app."""

    base_url: str
    graph_url: str
    ca_file: Path
    apps: dict[str, dict[str, str]]  # tenant name -> tenant_id, client_id, client_secret
    # tenant name -> login_url, client_id, client_secret of its sandbox Salesforce org
    salesforce: dict[str, dict[str, str]] = field(default_factory=dict)

    def authority(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}"

    @classmethod
    def from_file(cls, path: Path) -> SandboxConnection:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read sandbox connection file {path}: {exc}; start `syncd sandbox` first"
            ) from exc
        return cls(
            base_url=data["base_url"],
            graph_url=data["graph_url"],
            ca_file=Path(data["ca_file"]),
            apps={
                tenant["name"]: {
                    "tenant_id": tenant["tenant_id"],
                    "client_id": tenant["client_id"],
                    "client_secret": tenant["client_secret"],
                }
                for tenant in data["tenants"]
            },
            salesforce={
                tenant["name"]: tenant["salesforce"]
                for tenant in data["tenants"]
                if tenant.get("salesforce")
            },
        )


@dataclass(frozen=True)
class GraphAccess:
    """A tenant's Graph base URL, token provider and HTTP session, for checks that read
    raw answers (status, error code, Date header: `syncd doctor`)."""

    graph_url: str
    tokens: TokenProvider
    session: requests.Session
    client_id: str


@dataclass
class Runtime:
    """Everything a face (API, daemon, CLI) needs, built once per process."""

    config: LoadedConfig
    engine: Engine
    master_key: bytes
    clock: Callable[[], datetime]
    graphs: dict[str, GraphClient]
    schedulers: dict[str, Scheduler]
    closers: list[Callable[[], None]] = field(default_factory=list)
    sandbox: Any = None
    connections: dict[str, SandboxConnection] = field(default_factory=dict)
    _salesforce: dict[str, SalesforceClient] = field(default_factory=dict)
    #: tenant name -> why it cannot run (an unreadable secret, a refused credential...):
    #: such a tenant is skipped while the others keep being served
    broken: dict[str, str] = field(default_factory=dict)
    graph_access: dict[str, GraphAccess] = field(default_factory=dict)

    def broken_tenants(self) -> dict[str, str]:
        """Tenants that cannot run in this process and why (a copy; for status pages)."""
        return dict(self.broken)

    def healthy_tenants(self) -> list[str]:
        """Configured tenants that are not broken, in configuration order."""
        return [name for name in self.config.tenants if name not in self.broken]

    def mark_broken(self, tenant: str, reason: str) -> None:
        """Take `tenant` out of service with one clear log line; the others carry on."""
        if tenant in self.broken:
            return
        self.broken[tenant] = reason
        log.error(
            "tenant %s is skipped: %s (fix it, then check with `syncd doctor --tenant %s`)",
            tenant,
            reason,
            tenant,
        )

    def scheduler(self, tenant: str) -> Scheduler:
        if tenant in self.broken:
            raise tenant_unavailable(tenant)
        try:
            return self.schedulers[tenant]
        except KeyError:
            raise ConfigError(f"unknown tenant '{tenant}'") from None

    def salesforce(self, tenant: str) -> SalesforceClient:
        """The tenant's Salesforce client (built on first use: only the daemon needs it)."""
        if tenant not in self._salesforce:
            config = self.config.tenants.get(tenant)
            if config is None:
                raise ConfigError(f"unknown tenant '{tenant}'")
            client = _salesforce_client(config, self.connections.get(tenant), self.clock)
            self._salesforce[tenant] = client
            self.closers.append(client.close)
        return self._salesforce[tenant]

    def sync_services(
        self,
        names: list[str],
        should_stop_for: Callable[[str], Callable[[], bool]],
        owns_for: Callable[[str], Callable[[str], bool] | None] = lambda _name: None,
    ) -> dict[str, SyncService]:
        """The sync of each named tenant that can run; one whose Salesforce credential
        cannot be read is marked broken and left out. `owns_for(tenant)`: see SyncService."""
        services = {}
        for name in names:
            if name in self.broken:
                continue
            try:
                services[name] = self.sync_service(
                    name, should_stop=should_stop_for(name), owns=owns_for(name)
                )
            except (ConfigError, SyncdError) as exc:
                self.mark_broken(name, _reason(exc))
        return services

    def sync_service(
        self,
        tenant: str,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        owns: Callable[[str], bool] | None = None,
    ) -> SyncService:
        """One tenant's sync (poll, responses, availability, retries)."""
        return SyncService(
            self.config.tenants[tenant],
            self.scheduler(tenant),
            self.salesforce(tenant),
            self.graphs[tenant],
            self.engine,
            clock=self.clock,
            should_stop=should_stop,
            owns=owns,
        )

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, SyncdError) else str(exc)


def tenant_unavailable(tenant: str) -> SyncdError:
    """What the Scheduler API answers a broken tenant's clients: the operator's log and
    `syncd doctor` say why; the reason itself (file paths...) stays on the server."""
    return SyncdError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"Tenant '{tenant}' is not available on this server: its configuration or "
        "credentials could not be used. The operator finds the reason in the log and with "
        f"`syncd doctor --tenant {tenant}`; retry once it is fixed.",
        retry_after=60.0,
    )


def load_master_key(config: LoadedConfig) -> bytes:
    """The key that signs tokens and derives HMAC secrets (env/file, else generated)."""
    ref = config.settings.master_key
    if ref is not None:
        value = ref.read().encode()
        if len(value) < 32:
            raise ConfigError(f"master_key from {ref.describe()} must be at least 32 bytes")
        return value
    path = config.settings.state_dir / "master.key"
    if not path.exists():
        private_directory(path.parent)  # the state directory: 0700 whatever the umask
        # Written aside, then linked into place: processes starting together
        # (a daemon and API processes sharing state_dir) all end up with the one
        # key that won, and none reads a half-written file.
        draft = path.with_name(f".master.key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            os.link(draft, path)
            log.info("generated a new master key in %s", path)
        except FileExistsError:
            pass  # another process generated it first
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text().strip().encode()


def sandbox_specs(config: LoadedConfig) -> list[Any]:
    """One sandbox tenant per configured `provider = "sandbox"` tenant."""
    from syncd.sandbox.server import SandboxTenantSpec

    return [
        SandboxTenantSpec(
            name=t.name,
            domain=t.mail_domains[0],
            users=t.sandbox.users,
            seed=t.sandbox.seed,
            salesforce_events=t.sandbox.salesforce_events,
            shared_activities=t.sandbox.shared_activities,
            integration_user_email=t.sandbox.integration_user_email,
        )
        for t in config.tenants.values()
        if t.provider == "sandbox"
    ]


def connection_of(running: Any, names: list[str]) -> SandboxConnection:
    """A SandboxConnection for a sandbox started in this process."""
    apps = {}
    for name in names:
        tenant_id, client_id, client_secret = running.credentials(name)
        apps[name] = {
            "tenant_id": tenant_id,
            "client_id": client_id,
            "client_secret": client_secret,
        }
    return SandboxConnection(
        base_url=running.base_url,
        graph_url=running.graph_url,
        ca_file=Path(running.ca_file),
        apps=apps,
        salesforce={
            name: info
            for name in names
            if (info := running.connection_info_of(name).get("salesforce"))
        },
    )


def _sandbox_graph_access(tenant: TenantConfig, connection: SandboxConnection) -> GraphAccess:
    app = connection.apps.get(tenant.name)
    if app is None:
        raise ConfigError(f"the sandbox has no app for tenant '{tenant.name}'")
    session = build_session(connection.ca_file)
    tokens = MsalTokenProvider(
        authority=connection.authority(app["tenant_id"]),
        client_id=app["client_id"],
        credential=app["client_secret"],
        session=session,
        scopes=GRAPH_SCOPES,
        is_microsoft_cloud=False,
    )
    return GraphAccess(connection.graph_url, tokens, session, app["client_id"])


def _microsoft_graph_access(tenant: TenantConfig) -> GraphAccess:
    assert tenant.microsoft is not None
    session = build_session(tenant.microsoft.ca_file)
    tokens = token_provider_from_config(tenant.microsoft, session)
    return GraphAccess(tenant.microsoft.graph_url, tokens, session, tenant.microsoft.client_id)


def _graph(config: LoadedConfig, access: GraphAccess, *, in_flight: int) -> GraphClient:
    return GraphClient(
        graph_url=access.graph_url,
        tokens=access.tokens,
        session=access.session,
        tuning=config.settings.graph,
        in_flight_per_mailbox=in_flight,
    )


def build_runtime(
    config: LoadedConfig,
    *,
    clock: Callable[[], datetime] | None = None,
    sandbox: SandboxConnection | None = None,
    role: ProcessRole = "daemon",
    require_migrated: bool = True,
) -> Runtime:
    """Build the runtime; starts an in-process sandbox when a tenant needs one.

    `role` says which faces this process serves: its Graph clients keep to that role's
    share of each mailbox's concurrent requests (config.GraphTuning).
    """
    tuning = config.settings.graph
    if role != "daemon" and tuning.api_processes == 0:
        raise ConfigError(
            "this process serves the Scheduler API but [graph] api_processes is 0: count it "
            "(and every other API process), so the mailboxes' 4 concurrent requests are "
            "shared out right"
        )
    in_flight = tuning.in_flight_for(role)
    sandbox_clock = _sandbox_clock(config) if sandbox is None else None
    if clock is None and sandbox_clock is not None:
        clock = sandbox_clock.now  # syncd lives in the sandbox's time, as a test's does
    engine = make_engine(config.database_url)
    if require_migrated:  # `syncd doctor` reports an old store instead of stopping at it
        ensure_migrated(engine)
    runtime = Runtime(
        config=config,
        engine=engine,
        master_key=load_master_key(config),
        clock=clock or _now,
        graphs={},
        schedulers={},
    )
    runtime.closers.append(engine.dispose)
    # One set of per-meeting locks for every tenant of this process (on PostgreSQL: one
    # connection holding them all).
    meeting_locks = meeting_locks_for(engine)
    runtime.closers.append(meeting_locks.close)
    sandbox_tenants = [t for t in config.tenants.values() if t.provider == "sandbox"]
    embedded: SandboxConnection | None = sandbox
    for tenant in config.tenants.values():
        try:
            if tenant.provider == "microsoft":
                access = _microsoft_graph_access(tenant)
            elif tenant.sandbox.connection_file is not None:
                connection = SandboxConnection.from_file(tenant.sandbox.connection_file)
                runtime.connections[tenant.name] = connection
                access = _sandbox_graph_access(tenant, connection)
            else:
                if embedded is None:
                    embedded = _start_embedded_sandbox(
                        runtime, config, sandbox_tenants, sandbox_clock
                    )
                runtime.connections[tenant.name] = embedded
                access = _sandbox_graph_access(tenant, embedded)
        except (ConfigError, SyncdError) as exc:
            # One tenant's unreadable secret must not take the others down with it.
            runtime.mark_broken(tenant.name, _reason(exc))
            continue
        graph = _graph(config, access, in_flight=in_flight)
        runtime.graph_access[tenant.name] = access
        runtime.graphs[tenant.name] = graph
        runtime.closers.append(graph.close)
        runtime.schedulers[tenant.name] = Scheduler(
            tenant, engine, graph, clock=runtime.clock, locks=meeting_locks
        )
    return runtime


def salesforce_client_for(
    tenant: TenantConfig, clock: Callable[[], datetime] = _now
) -> SalesforceClient:
    """The tenant's Salesforce client outside a runtime (`syncd config check --salesforce`);
    a sandbox tenant's org is reached only through its `connection_file`."""
    return _salesforce_client(tenant, None, clock)


@dataclass(frozen=True)
class SalesforceAccess:
    """How a tenant logs in to its org, for checks that talk to it directly (`syncd doctor`)."""

    login: Login
    session: requests.Session
    api_version: str


def salesforce_access(
    tenant: TenantConfig,
    connection: SandboxConnection | None,
    clock: Callable[[], datetime] = _now,
) -> SalesforceAccess:
    """The tenant's Salesforce login (reads its secret now: ConfigError when it cannot)."""
    # [salesforce] decides, not the provider (which says where the mailboxes are).
    if tenant.salesforce_org == "login":
        if tenant.salesforce.login is None:
            raise ConfigError(f"tenant '{tenant.name}' has no [salesforce.login]")
        cfg = tenant.salesforce.login
        session = build_salesforce_session(cfg.ca_file)
        return SalesforceAccess(
            login_from_config(cfg, session, clock=clock), session, cfg.api_version
        )
    if connection is None and tenant.sandbox.connection_file is not None:
        connection = SandboxConnection.from_file(tenant.sandbox.connection_file)
    org = connection.salesforce.get(tenant.name) if connection else None
    if connection is None or org is None:
        raise ConfigError(
            f"the sandbox of tenant '{tenant.name}' has no Salesforce org "
            "(sandbox.salesforce_events must be set)"
        )
    session = build_salesforce_session(connection.ca_file)
    login = ClientCredentialsLogin(
        login_url=org["login_url"],
        client_id=org["client_id"],
        client_secret=org["client_secret"],
        session=session,
    )
    version = tenant.salesforce.login.api_version if tenant.salesforce.login else None
    return SalesforceAccess(login, session, version or DEFAULT_API_VERSION)


def _salesforce_client(
    tenant: TenantConfig,
    connection: SandboxConnection | None,
    clock: Callable[[], datetime],
) -> SalesforceClient:
    access = salesforce_access(tenant, connection, clock)
    return SalesforceClient(
        login=access.login, session=access.session, api_version=access.api_version, clock=clock
    )


def _sandbox_clock(config: LoadedConfig) -> SandboxClock | None:
    """The built-in sandbox's clock when `[sandbox] start` sets it and a tenant uses the
    built-in sandbox (a `connection_file` tenant's sandbox keeps its own time)."""
    start = config.settings.sandbox.start
    if start is None:
        return None
    from syncd.sandbox.clock import SandboxClock

    embedded = any(
        t.provider == "sandbox" and t.sandbox.connection_file is None
        for t in config.tenants.values()
    )
    return SandboxClock(start=start) if embedded else None


def _start_embedded_sandbox(
    runtime: Runtime,
    config: LoadedConfig,
    tenants: list[TenantConfig],
    clock: SandboxClock | None,
) -> SandboxConnection:
    from syncd.sandbox.server import start_sandbox

    running = start_sandbox(
        host=config.settings.sandbox.host,
        port=0,
        state_dir=config.settings.state_dir / "sandbox",
        tenants=sandbox_specs(config),
        clock=clock,
    )
    runtime.sandbox = running
    runtime.closers.append(running.stop)
    log.info("started the built-in sandbox Microsoft 365 at %s", running.base_url)
    return connection_of(running, [t.name for t in tenants])
