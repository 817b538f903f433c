"""One tenant whose secret cannot be read stays inside its tenant: `syncd reconcile`
and `syncd run --api` (real processes) sync and serve the other tenant, log the
broken one once with its reason, and the API answers the broken tenant's clients
with its error shape; `syncd config check` and `syncd doctor` name the secret.

The broken tenant is a `provider = "microsoft"` tenant pointed at the sandbox
whose client secret file does not exist (the tests run as root, for whom a mode
of 000 does not stop a read, so a missing file plays the unreadable one).
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import requests

from syncd.sandbox.server import RunningSandbox
from tests.daemon.helpers import REPO, SYNCD, TENANT, World, mailbox_users, outlook_meetings
from tests.support import free_port, wait_until

BROKEN = "broken"
SKIPPED_LOG = f"tenant {BROKEN} is skipped"


def add_broken_tenant(world: World) -> Path:
    """A second tenant whose Graph client secret file is missing; returns that path."""
    sandbox: RunningSandbox = world.sandbox
    tenant_id, client_id, _ = sandbox.credentials(TENANT)
    secret = world.root / "secrets" / "graph-client-secret"
    (world.config_path.parent / "tenants" / f"{BROKEN}.toml").write_text(
        f'name = "{BROKEN}"\nprovider = "microsoft"\nmail_domains = ["fabrikam.example"]\n\n'
        f'[microsoft]\ntenant_id = "{tenant_id}"\nclient_id = "{client_id}"\n'
        f'client_secret = {{ file = "{secret}" }}\nauthority_host = "{sandbox.base_url}"\n'
        f'graph_url = "{sandbox.graph_url}"\nca_file = "{sandbox.ca_file}"\n\n'
        '[salesforce.login]\nflow = "client_credentials"\nlogin_url = "https://127.0.0.1:9"\n'
        f'client_id = "3MVG9broken"\nclient_secret = {{ file = "{secret}" }}\n'
    )
    return secret


def test_reconcile_syncs_the_good_tenant_and_reports_the_broken_one(world: World) -> None:
    secret = add_broken_tenant(world)
    done = world.syncd("reconcile")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.stdout, done.stderr)  # a setup error, as documented
    assert f"tenant {TENANT}: full resync" in done.stdout, done.stdout
    assert f"tenant {BROKEN}: skipped: " in done.stdout and str(secret) in done.stdout
    assert done.stderr.count(SKIPPED_LOG) == 1, done.stderr
    assert outlook_meetings(world.sandbox), "the good tenant's Events became meetings"


def test_the_daemon_and_the_api_serve_the_good_tenant(world: World, tmp_path: Path) -> None:
    add_broken_tenant(world)
    port = free_port()
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*SYNCD, "--config", str(world.config_path), "run", "--api", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        wait_until(lambda: outlook_meetings(world.sandbox), "the good tenant's meetings", 90)
        server = f"http://127.0.0.1:{port}"
        wait_until(lambda: _up(server), "the Scheduler API", 30)
        organizer = next(iter(mailbox_users(world.sandbox)))
        served = _get_meeting(world, server, TENANT, organizer)
        assert served.status_code == 404 and served.json()["errorCode"] == "MeetingNotFound"
        refused = _get_meeting(world, server, BROKEN, "pat@fabrikam.example")
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert set(body) == {"email", "errorCode", "errorMessage"}
        assert body["errorCode"] == "UpstreamUnavailable"
        assert f"syncd doctor --tenant {BROKEN}" in body["errorMessage"]
        assert "graph-client-secret" not in body["errorMessage"], "paths stay on the server"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log_path.read_text()
    assert "Traceback" not in text, text
    assert text.count(SKIPPED_LOG) == 1, text


def test_config_check_and_doctor_name_the_unreadable_secret(world: World) -> None:
    secret = add_broken_tenant(world)
    checked = world.syncd("config", "check")
    assert checked.returncode == 2, checked.stdout
    assert f"tenant '{BROKEN}': secret [microsoft] client_secret" in checked.stderr
    assert f"chmod 600 {secret}" in checked.stderr, checked.stderr

    doctor = world.syncd("doctor", "--tenant", BROKEN)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert f"\u2717 Configuration: secret [microsoft] client_secret: cannot read file {secret}" in (
        doctor.stdout
    )
    assert "\u2717 Configuration: tenant can run" in doctor.stdout

    good = world.syncd("doctor", "--tenant", TENANT, "--json")
    assert good.returncode == 0, good.stdout + good.stderr
    assert json.loads(good.stdout)["ok"] is True


def _up(server: str) -> bool:
    try:
        return requests.get(f"{server}/healthz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def _get_meeting(world: World, server: str, tenant: str, organizer: str) -> requests.Response:
    created = world.syncd("clients", "create", "--tenant", tenant, "--json")
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    token = requests.post(
        f"{server}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "refresh_token": client["refresh_token"],
        },
        timeout=30,
    )
    assert token.status_code == 200, token.text
    return requests.get(
        f"{server}/api/salesforce/scheduler/meeting",
        params={"id": "no-such-meeting", "organizerEmail": organizer},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=30,
    )
