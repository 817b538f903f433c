"""The README's walk, run as a newcomer would: real `syncd` processes, real HTTP.

db upgrade -> run --api (the README's first command: built-in sandbox)
-> clients create -> token -> schedule -> read back with responses -> update
-> availability -> cancel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
SYNCD = [sys.executable, "-m", "syncd.cli"]
ORGANIZER = "megan.bowen@contoso.example"
COLLEAGUE = "grady.archie@contoso.example"
PARTNER = "pat.partner@fabrikam.example"
API = "/api/salesforce/scheduler"


def syncd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCD, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped config (its state lands in the temp dir)."""
    root = tmp_path_factory.mktemp("walk")
    shutil.copytree(REPO / "config", root / "config")
    return root / "config" / "syncd.toml"


@pytest.fixture(scope="module")
def server(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for command in ("serve", "run"):
        refused = syncd(config, command, "--port", "1")
        assert refused.returncode == 2 and "syncd db upgrade" in refused.stderr, refused.stderr
    upgraded = syncd(config, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    log_file = tmp_path_factory.mktemp("serve") / "serve.log"
    log = log_file.open("w")
    process = subprocess.Popen(
        [*SYNCD, "--config", str(config), "run", "--api", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"syncd run --api did not come up:\n{log_file.read_text()}")
        time.sleep(0.2)
    yield url
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises SIGTERM (a clean exit to systemd).
    assert process.wait(timeout=30) in (0, -signal.SIGTERM), log_file.read_text()
    log.close()
    assert "Traceback" not in log_file.read_text()


def _walk_steps() -> dict[int, str]:
    """The README walk's shell steps by number ("# 2. ..." starts step 2)."""
    text = (REPO / "README.md").read_text()
    start = text.index("## A first walk")
    block = text[text.index("```sh\n", start) + len("```sh\n") :]
    block = block[: block.index("\n```")]
    steps: dict[int, str] = {}
    number = 0
    for line in block.splitlines():
        heading = re.match(r"# (\d+)\. ", line)
        if heading:
            number = int(heading.group(1))
        steps[number] = steps.get(number, "") + line + "\n"
    return steps


def _run_steps(script: str, config: Path, server: str, workdir: Path) -> str:
    """Run README shell text as a newcomer's shell would, against the test's processes;
    prints $TOKEN at the end."""
    script = script.replace(".venv/bin/syncd", f"{sys.executable} -m syncd.cli --config {config}")
    script = script.replace("http://127.0.0.1:8080", server)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script + 'echo "TOKEN=$TOKEN"\n'],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1].removeprefix("TOKEN=")
    assert token, done.stdout
    return token


def test_the_readme_walk(config: Path, server: str, tmp_path: Path) -> None:
    steps = _walk_steps()
    # Steps 1 and 2 as written: the client is minted into client.json (private), and its
    # refresh token is traded; step 2 run again works too, because the walk keeps the
    # rotated refresh token (presenting the spent one would revoke the whole family).
    first = _run_steps(steps[1] + steps[2], config, server, tmp_path)
    client = json.loads((tmp_path / "client.json").read_text())
    assert client["tenant"] == "demo" and client["client_id"] and client["refresh_token"]
    assert stat.S_IMODE((tmp_path / "client.json").stat().st_mode) == 0o600
    second = _run_steps(steps[2], config, server, tmp_path)
    rotated = json.loads((tmp_path / "client.json").read_text())["refresh_token"]
    assert second != first and rotated != client["refresh_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {second}"

    meeting = {
        "id": "opp-0042-kickoff",
        "organizerEmail": ORGANIZER,
        "subject": "Kick-off",
        "body": "Agenda: scope, dates, owners.",
        "location": "MS Teams",
        "startTime": "2031-03-04T09:00:00Z",
        "endTime": "2031-03-04T10:00:00Z",
        "salesforceCorrelationId": "walk-1",
        "attendees": [
            {"email": COLLEAGUE, "isRequired": "true"},
            {"email": PARTNER, "isRequired": "false"},
        ],
    }
    created = session.post(f"{server}{API}/meeting", json=meeting, timeout=60)
    assert created.status_code == 200, created.text
    assert created.json()["errorCode"] == "NoError"
    assert created.json()["joinUrl"].startswith("https://teams.microsoft.com/")

    read = session.get(
        f"{server}{API}/meeting",
        params={"id": meeting["id"], "organizerEmail": ORGANIZER},
        timeout=60,
    )
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["startTime"], body["endTime"]) == (meeting["startTime"], meeting["endTime"])
    assert [(a["email"], a["isRequired"]) for a in body["attendees"]] == [
        (COLLEAGUE, "true"),
        (PARTNER, "false"),
    ]
    assert all(
        a["response"] in {"NoResponseReceived", "Accepted", "Declined", "Tentative"}
        for a in body["attendees"]
    )

    moved = session.patch(
        f"{server}{API}/meeting",
        json={
            "id": meeting["id"],
            "organizerEmail": ORGANIZER,
            "subject": "Kick-off (moved)",
            "startTime": "2031-03-04T13:00:00Z",
            "endTime": "2031-03-04T14:00:00Z",
        },
        timeout=60,
    )
    assert moved.status_code == 200 and moved.json()["errorCode"] == "NoError", moved.text

    busy = session.post(
        f"{server}{API}/availability",
        params={"from": "2031-03-04T00:00:00Z", "to": "2031-03-05T00:00:00Z"},
        json=[{"email": ORGANIZER}, {"email": COLLEAGUE}],
        timeout=60,
    )
    assert busy.status_code == 200, busy.text
    organizer_slots = busy.json()[0]
    assert organizer_slots["errorCode"] == "NoError"
    assert {"timeMin": "2031-03-04T13:00:00Z", "timeMax": "2031-03-04T14:00:00Z"} in (
        organizer_slots["unavailableTimeslots"]
    )
    assert busy.json()[1]["errorCode"] == "NoError"

    cancelled = session.delete(
        f"{server}{API}/meeting",
        json={"id": meeting["id"], "organizerEmail": ORGANIZER},
        timeout=60,
    )
    assert cancelled.status_code == 200 and cancelled.json()["errorCode"] == "NoError"
    gone = session.get(
        f"{server}{API}/meeting",
        params={"id": meeting["id"], "organizerEmail": ORGANIZER},
        timeout=60,
    )
    assert gone.status_code == 404 and gone.json()["errorCode"] == "MeetingNotFound"
