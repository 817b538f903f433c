"""Serving the sandbox over TLS: in a background thread for tests, or in the foreground.

`start_sandbox(...)` returns a `RunningSandbox` (also a context manager) exposing
the URLs, the CA file, each tenant's app credentials and the live state objects.
`run_standalone(...)` serves until SIGINT/SIGTERM and writes connection.json.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import uvicorn

from syncd.sandbox.app import build_app
from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.date_header import DateHeader
from syncd.sandbox.microsoft.directory import Directory, Tenant, build_tenant, stable_uuid
from syncd.sandbox.microsoft.state import MicrosoftState, build_state
from syncd.sandbox.salesforce import (
    OrgSettings,
    SalesforceOrg,
    SalesforceState,
    build_org,
    build_salesforce_app,
    build_salesforce_state,
)
from syncd.sandbox.tls import TlsFiles, make_tls

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class _Listener:
    """One uvicorn server on its own socket, served from a background thread."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, port: int) -> None:
        self.server = server
        self.thread = thread
        self.port = port

    def stop(self, timeout: float) -> None:
        self.server.should_exit = True
        self.thread.join(0.5)
        if self.thread.is_alive():
            # A client that keeps its connection open would hold the graceful
            # shutdown until its timeout; the sandbox has nothing to flush.
            self.server.force_exit = True
            self.thread.join(timeout)


def _serve(app: Any, host: str, port: int, tls: TlsFiles, name: str, timeout: float) -> _Listener:
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        ssl_certfile=str(tls.cert_file),
        ssl_keyfile=str(tls.key_file),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        # Callers are who connect: no forwarded header picks the address (uvicorn
        # would believe X-Forwarded-For from 127.0.0.1 by default).
        proxy_headers=False,
        # Each app sets its own Date (syncd.sandbox.date_header), skew included.
        date_header=False,
    )
    server = uvicorn.Server(config)
    # Off the main thread uvicorn installs no signal handlers.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the sandbox did not start on {host}:{sock.getsockname()[1]}")
        time.sleep(0.01)
    return _Listener(server, thread, sock.getsockname()[1])


def _url(host: str, port: int) -> str:
    url_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
    url_host = f"[{url_host}]" if ":" in url_host else url_host
    return f"https://{url_host}:{port}"


@dataclass(frozen=True)
class SandboxTenantSpec:
    """One Entra tenant to create, with one registered app (client secret generated)."""

    name: str
    domain: str
    users: int = 25
    seed: int = 42
    #: Demo Events in the tenant's Salesforce org; None: the tenant has no org.
    salesforce_events: int | None = None
    #: whether the tenant's org has Shared Activities enabled (EventRelation.IsInvitee)
    shared_activities: bool = True
    #: the org's integration user's e-mail; None: syncd.integration@<domain>
    integration_user_email: str | None = None


@dataclass(frozen=True)
class SalesforceOrgEndpoint:
    """A tenant's sandbox Salesforce org: its own listener and its connected app."""

    tenant: str
    base_url: str
    client_id: str
    client_secret: str
    state: SalesforceState
    listener: _Listener

    @property
    def login_url(self) -> str:
        return self.base_url

    @property
    def org(self) -> SalesforceOrg:
        return self.state.org


@dataclass(frozen=True)
class TenantCredentials:
    name: str
    domain: str
    tenant_id: str
    client_id: str
    client_secret: str


class RunningSandbox:
    """A sandbox serving on https://host:port; stop() (or leaving the `with`) shuts it down."""

    def __init__(
        self,
        *,
        listener: _Listener,
        host: str,
        state_dir: Path,
        tls: TlsFiles,
        state: MicrosoftState,
        tenants: list[TenantCredentials],
        salesforce: dict[str, SalesforceOrgEndpoint],
    ) -> None:
        self._listener = listener
        self.host = host
        self.port = listener.port
        self.state_dir = state_dir
        self.tls = tls
        self.state = state
        self.tenants = tenants
        self.salesforce = salesforce
        self.base_url = _url(host, listener.port)
        self.graph_url = f"{self.base_url}/v1.0"
        self.ca_file = tls.ca_file
        # The live state, for tests and benchmarks to inspect and steer.
        self.directory = state.directory
        self.calendars = state.calendars
        self.faults = state.faults
        self.counters = state.counters
        self.clock = state.clock
        self.identity = state.identity
        self.throttle = state.throttle
        self.answers = state.answers
        self.access_policy = state.access_policy
        self.delta = state.delta

    # -- tenants and credentials ---------------------------------------------------------
    def _credentials_for(self, tenant: str | None) -> TenantCredentials:
        if tenant is None:
            return self.tenants[0]
        wanted = tenant.lower()
        for creds in self.tenants:
            if wanted in (creds.name.lower(), creds.domain.lower(), creds.tenant_id.lower()):
                return creds
        known = ", ".join(c.name for c in self.tenants)
        raise KeyError(f"no sandbox tenant {tenant!r} (known: {known})")

    def tenant(self, tenant: str | None = None) -> Tenant:
        """The directory tenant by name, domain or id (default: the first one)."""
        found = self.directory.tenant(self._credentials_for(tenant).tenant_id)
        assert found is not None
        return found

    def credentials(self, tenant: str | None = None) -> tuple[str, str, str]:
        """(tenant_id, client_id, client_secret) of the app registered for the tenant."""
        creds = self._credentials_for(tenant)
        return creds.tenant_id, creds.client_id, creds.client_secret

    def authority(self, tenant: str | None = None) -> str:
        """The msal authority URL, e.g. https://127.0.0.1:PORT/<tenant id>."""
        return f"{self.base_url}/{self._credentials_for(tenant).tenant_id}"

    def token_endpoint(self, tenant: str | None = None) -> str:
        return f"{self.authority(tenant)}/oauth2/v2.0/token"

    # -- controls -------------------------------------------------------------------------
    def revoke_tokens(self) -> int:
        """Invalidate every issued access token (Graph then answers 401)."""
        return self.identity.revoke_all()

    def reset(self, *, events: bool = False) -> None:
        """Back to defaults: faults, counters, throttle, answers, access policy, clock,
        delta tokens."""
        self.faults.reset()
        self.counters.reset()
        self.throttle.reset()
        self.answers.reset()
        self.access_policy.clear()
        self.clock.reset()
        self.delta.reset()
        if events:
            self.calendars.clear()

    def _salesforce_info(self, name: str) -> dict[str, Any] | None:
        endpoint = self.salesforce.get(name)
        if endpoint is None:
            return None
        return {
            "login_url": endpoint.login_url,
            "client_id": endpoint.client_id,
            "client_secret": endpoint.client_secret,
            "admin_url": f"{endpoint.base_url}/_sandbox/salesforce",
        }

    def connection_info_of(self, tenant: str) -> dict[str, Any]:
        """One tenant's entry of connection_info()."""
        name = self._credentials_for(tenant).name
        return next(t for t in self.connection_info()["tenants"] if t["name"] == name)

    def connection_info(self) -> dict[str, Any]:
        """What a client needs to connect (secrets included: keep it private)."""
        tenants = []
        for creds in self.tenants:
            tenant = self.tenant(creds.tenant_id)
            tenants.append(
                {
                    "name": creds.name,
                    "domain": creds.domain,
                    "tenant_id": creds.tenant_id,
                    "client_id": creds.client_id,
                    "client_secret": creds.client_secret,
                    "authority": self.authority(creds.tenant_id),
                    "token_endpoint": self.token_endpoint(creds.tenant_id),
                    "scope": GRAPH_SCOPE,
                    "salesforce": self._salesforce_info(creds.name),
                    "users": [
                        {
                            "id": u.id,
                            "email": u.email,
                            "displayName": u.display_name,
                            "hasMailbox": u.has_mailbox,
                            "timeZone": u.time_zone,
                        }
                        for u in tenant.users
                    ],
                }
            )
        return {
            "base_url": self.base_url,
            "graph_url": self.graph_url,
            "admin_url": f"{self.base_url}/_sandbox",
            "ca_file": str(self.ca_file),
            "tenants": tenants,
        }

    def org(self, tenant: str | None = None) -> SalesforceOrgEndpoint:
        """The tenant's sandbox Salesforce org (by tenant name, domain or id)."""
        name = self._credentials_for(tenant).name
        try:
            return self.salesforce[name]
        except KeyError:
            raise KeyError(f"sandbox tenant {name!r} has no Salesforce org") from None

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down; idle keep-alive TLS connections are not waited for."""
        for endpoint in self.salesforce.values():
            endpoint.listener.stop(timeout)
        self._listener.stop(timeout)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_dir: Path,
    seed: int = 42,
    tenants: Sequence[SandboxTenantSpec] | None = None,
    clock: SandboxClock | None = None,
    startup_timeout: float = 15.0,
) -> RunningSandbox:
    """Serve a fresh sandbox in a background thread; `port=0` picks a free port."""
    specs = list(tenants or [SandboxTenantSpec("Contoso", "contoso.example")])
    directory = Directory()
    state = build_state(seed=seed, clock=clock or SandboxClock(), directory=directory)
    credentials = []
    for spec in specs:
        tenant = directory.add_tenant(build_tenant(spec.name, spec.domain, spec.users, spec.seed))
        client_id = stable_uuid("app", seed, tenant.id)
        secret = secrets.token_urlsafe(30)
        state.identity.register_app(tenant.id, client_id, secret=secret)
        credentials.append(TenantCredentials(spec.name, spec.domain, tenant.id, client_id, secret))
    tls = make_tls(state_dir)
    app = DateHeader(build_app(state), state.clock.time, lambda: state.faults.date_skew_seconds)
    listener = _serve(app, host, port, tls, "syncd-sandbox", startup_timeout)
    salesforce: dict[str, SalesforceOrgEndpoint] = {}
    try:
        for spec in specs:
            if spec.salesforce_events is not None:
                salesforce[spec.name] = _start_org(spec, state.clock, host, tls, startup_timeout)
    except BaseException:
        for endpoint in salesforce.values():
            endpoint.listener.stop(1.0)
        listener.stop(1.0)
        raise
    return RunningSandbox(
        listener=listener,
        host=host,
        state_dir=state_dir,
        tls=tls,
        state=state,
        tenants=credentials,
        salesforce=salesforce,
    )


def _start_org(
    spec: SandboxTenantSpec, clock: SandboxClock, host: str, tls: TlsFiles, timeout: float
) -> SalesforceOrgEndpoint:
    """The tenant's org on a listener of its own: an org's REST API owns the whole origin
    (/services/...), so two orgs cannot share one. Same people as the tenant's directory."""
    org = build_org(
        users=spec.users,
        events=spec.salesforce_events or 0,
        seed=spec.seed,
        domain=spec.domain,
        clock=clock,
        settings=OrgSettings(shared_activities=spec.shared_activities),
    )
    if spec.integration_user_email:
        integration = org.find_user(org.integration_username or "") or ""
        org.update("User", integration, {"Email": spec.integration_user_email})
    state = build_salesforce_state(org)
    client_id = f"3MVG9sandbox.{stable_uuid('salesforce-app', spec.seed, spec.domain)}"
    secret = secrets.token_urlsafe(30)
    state.register_connected_app(client_id, client_secret=secret, run_as=org.integration_username)
    app = DateHeader(
        build_salesforce_app(state), state.clock.time, lambda: state.faults.date_skew_seconds
    )
    listener = _serve(app, host, 0, tls, f"syncd-sandbox-sf-{spec.name}", timeout)
    return SalesforceOrgEndpoint(
        tenant=spec.name,
        base_url=_url(host, listener.port),
        client_id=client_id,
        client_secret=secret,
        state=state,
        listener=listener,
    )


def write_connection_file(sandbox: RunningSandbox) -> Path:
    """state_dir/connection.json, readable by the owner only (it holds client secrets)."""
    path = sandbox.state_dir / "connection.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(sandbox.connection_info(), handle, indent=2)
    os.chmod(path, 0o600)
    return path


def usage_text(sandbox: RunningSandbox, connection_file: Path) -> str:
    """What to tell a person: where the details are and a curl session to try."""
    creds = sandbox.tenants[0]
    user = next(u for u in sandbox.tenant(creds.tenant_id).users if u.has_mailbox)
    secret_cmd = (
        f"python3 -c \"import json; print(json.load(open('{connection_file}'))"
        "['tenants'][0]['client_secret'])\""
    )
    token_cmd = (
        f"curl -s --cacert {sandbox.ca_file} -d grant_type=client_credentials "
        f'-d client_id={creds.client_id} --data-urlencode "client_secret=$SECRET" '
        f"--data-urlencode scope={GRAPH_SCOPE} {sandbox.token_endpoint(creds.tenant_id)} "
        "| python3 -c \"import json,sys; print(json.load(sys.stdin)['access_token'])\""
    )
    return "\n".join(
        [
            f"syncd sandbox (Microsoft 365) listening on {sandbox.base_url}",
            f"Connection details (with client secrets, mode 0600): {connection_file}",
            f"CA certificate to trust: {sandbox.ca_file}",
            "",
            "Try it:",
            f"  SECRET=$({secret_cmd})",
            f"  TOKEN=$({token_cmd})",
            f'  curl -s --cacert {sandbox.ca_file} -H "Authorization: Bearer $TOKEN" '
            f"{sandbox.graph_url}/users/{user.email}/events",
            "",
            f"Admin API: {sandbox.base_url}/_sandbox/stats (also /faults, /clock, /throttle)",
            *(
                f"Salesforce org of tenant {name}: {org.base_url} "
                f"(admin: {org.base_url}/_sandbox/salesforce/org)"
                for name, org in sandbox.salesforce.items()
            ),
            "Stop with Ctrl+C.",
        ]
    )


def run_standalone(
    host: str,
    port: int,
    state_dir: Path,
    specs: Sequence[SandboxTenantSpec],
    *,
    seed: int = 42,
    out: TextIO = sys.stdout,
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM (call from the main thread)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sandbox = start_sandbox(host=host, port=port, state_dir=state_dir, seed=seed, tenants=specs)
        with sandbox:
            connection_file = write_connection_file(sandbox)
            print(usage_text(sandbox, connection_file), file=out, flush=True)
            stop.wait()
            print("Stopping the sandbox.", file=out, flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
