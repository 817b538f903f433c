"""POST, PATCH, DELETE and GET of one meeting, overlapping, in every order, across two
`syncd serve` processes over one PostgreSQL.

The same scenarios and check as tests/api/test_interleavings.py, but consecutive requests
of a scenario go to different API processes: only the per-meeting advisory locks in
PostgreSQL keep them from acting on each other's stale view of the ledger (a DELETE
answered by one process undone by a request the other was finishing).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from syncd.auth import create_client
from syncd.config import load_config
from syncd.ledger.db import make_engine
from syncd.runtime import load_master_key
from syncd.sandbox.server import (
    RunningSandbox,
    SandboxTenantSpec,
    start_sandbox,
    write_connection_file,
)
from tests.api.interleavings import ORDERS, TENANT, check, http_sender, run_all, scenarios_for
from tests.support import free_port, users_of, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("syncd")
SYNCD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "syncd.cli"]


@dataclass
class TwoApis:
    sandbox: RunningSandbox
    engine: Engine
    clients: list[httpx.Client]


def _write_config(root: Path, connection: Path, database_url: str) -> Path:
    (root / "tenants").mkdir(parents=True)
    (root / "tenants" / f"{TENANT}.toml").write_text(
        f'name = "{TENANT}"\nprovider = "sandbox"\nmail_domains = ["contoso.example"]\n\n'
        f'[sandbox]\nseed = 42\nusers = 25\nconnection_file = "{connection}"\n'
    )
    key = root / "master.key"  # both processes sign and check tokens with one key
    key.write_text(uuid.uuid4().hex * 2)
    path = root / "syncd.toml"
    path.write_text(
        f'database_url = "{database_url}"\ntenants_dir = "tenants"\nstate_dir = "state"\n'
        f'log_level = "WARNING"\nmaster_key = {{ file = "{key}" }}\n'
    )
    return path


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def two_apis(tmp_path: Path, pg_store: str) -> Iterator[TwoApis]:
    spec = SandboxTenantSpec(TENANT, "contoso.example", 25, 42)
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=[spec]) as sandbox:
        config_path = _write_config(tmp_path / "config", write_connection_file(sandbox), pg_store)
        processes, logs, urls = [], [], []
        for name in ("api1", "api2"):
            port = free_port()
            log = (tmp_path / f"{name}.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [*SYNCD, "--config", str(config_path), "serve", "--port", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=REPO,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        engine = make_engine(pg_store)
        try:
            for process, url in zip(processes, urls, strict=True):
                wait_until(lambda u=url, p=process: _up(u) or p.poll() is not None, url, 60)
                assert process.poll() is None, f"{url} ended with {process.returncode}"
            key = load_master_key(load_config(config_path))
            made = create_client(engine, tenant=TENANT, method="oauth", master_key=key)
            form = {
                "grant_type": "refresh_token",
                "client_id": made["client_id"],
                "refresh_token": made["refresh_token"],
            }
            answer = httpx.post(f"{urls[0]}/oauth/token", data=form, timeout=30)
            assert answer.status_code == 200, answer.text
            headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            clients = [httpx.Client(base_url=u, headers=headers, timeout=60) for u in urls]
            yield TwoApis(sandbox, engine, clients)
            for client in clients:
                client.close()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(30)
            for log in logs:
                log.close()
            engine.dispose()


def test_overlapping_requests_through_two_api_processes(two_apis: TwoApis) -> None:
    sandbox = two_apis.sandbox
    for latency in (0.0, 0.1, 0.3):
        sandbox.faults.configure(latency_seconds=latency)
        scenarios = scenarios_for(users_of(sandbox, TENANT), ORDERS)
        # Request i of each scenario goes to process i % 2, while request i - 1 is still
        # in flight at the other process.
        run_all(scenarios, http_sender(two_apis.clients), stagger=max(latency / 2, 0.02))
        sandbox.faults.configure(latency_seconds=0)
        for scenario in scenarios:
            check(scenario, sandbox, two_apis.engine)
