"""Serving: standalone mode writes connection.json (0600), prints a recipe, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests

from syncd.sandbox import RunningSandbox

SCRIPT = """
import sys
from pathlib import Path
from syncd.sandbox import SandboxTenantSpec, run_standalone
specs = [SandboxTenantSpec("Contoso", "contoso.example", users=5)]
run_standalone("127.0.0.1", 0, Path(sys.argv[1]), specs)
"""


def test_run_standalone_until_sigterm(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    connection_file = state_dir / "connection.json"
    try:
        deadline = time.monotonic() + 20
        while not connection_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # let the writer finish the file
        info = json.loads(connection_file.read_text())
        assert stat.S_IMODE(os.stat(connection_file).st_mode) == 0o600
        session = requests.Session()
        session.trust_env = False
        session.verify = info["ca_file"]
        tenant = info["tenants"][0]
        token = session.post(
            tenant["token_endpoint"],
            data={
                "grant_type": "client_credentials",
                "client_id": tenant["client_id"],
                "client_secret": tenant["client_secret"],
                "scope": tenant["scope"],
            },
        ).json()["access_token"]
        user = tenant["users"][0]["email"]
        events = session.get(
            f"{info['graph_url']}/users/{user}/events",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert events.status_code == 200
        session.close()
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert str(connection_file) in out
    assert "curl" in out
    assert tenant["client_secret"] not in out  # the recipe reads it from the file


def test_running_sandbox_exposes_urls_and_credentials(sandbox: RunningSandbox) -> None:
    assert sandbox.base_url == f"https://127.0.0.1:{sandbox.port}"
    assert sandbox.graph_url == sandbox.base_url + "/v1.0"
    tenant_id, client_id, secret = sandbox.credentials("fabrikam.example")
    assert sandbox.authority("Fabrikam") == f"{sandbox.base_url}/{tenant_id}"
    assert client_id and secret
    assert sandbox.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
