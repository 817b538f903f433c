"""Three `syncd run` replicas and two `syncd serve` processes over one PostgreSQL.

Six sandbox tenants (Microsoft 365 plus a Salesforce org each, in this process) are
synced by three daemon replicas; the leases spread them over the replicas. While a
replica is in the middle of a tenant's first sync (Graph is slow, creates are in
flight) it is killed with SIGKILL. The others take its tenants over, finish what it
left half done, and every tenant ends with the crash-consistency tests' end state:
each valid Event has exactly one live Outlook meeting (no duplicate, none missing),
no meeting is left without its Event, and Salesforce shows what Outlook holds.

Meanwhile the two API processes answer for each other: a meeting made through one
is read, moved and cancelled through the other, a refresh token rotated by one is
refused (as a reuse) by the other and only one of two simultaneous uses wins, and
an HMAC-signed request accepted by one is refused as a replay by the other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from syncd.auth import sign_request
from syncd.ledger.db import make_engine
from syncd.ledger.lease import holders
from syncd.ledger.models import MeetingRecord
from syncd.sandbox.server import (
    RunningSandbox,
    SandboxTenantSpec,
    start_sandbox,
    write_connection_file,
)
from tests import harness
from tests.harness import SandboxTenant
from tests.reliability.checker import check
from tests.support import free_port, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("syncd")
SYNCD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "syncd.cli"]
TENANTS = [f"t{i}" for i in range(1, 7)]
EVENTS = 40
USERS = 25
#: Graph latency while the replicas make the first sync (creates stay in flight a while).
SLOW = 1.0
MEETING = "/api/salesforce/scheduler/meeting"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def application_name(self) -> str:
        return f"syncd-replica {self.popen.pid}"

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Cluster:
    sandbox: RunningSandbox
    config_path: Path
    root: Path
    engine: Engine
    processes: list[Process] = field(default_factory=list)

    def syncd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SYNCD, "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=REPO,
        )

    def start(self, name: str, *args: str, port: int | None = None) -> Process:
        log_path = self.root / f"{name}.log"
        log = log_path.open("wb")
        popen = subprocess.Popen(
            [*SYNCD, "--config", str(self.config_path), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        process = Process(name, popen, log_path, log, port)
        self.processes.append(process)
        return process

    def holders(self) -> dict[str, str]:
        return holders(self.engine, TENANTS)

    def intents(self, tenants: set[str]) -> int:
        with Session(self.engine) as session:
            return session.exec(
                select(func.count())
                .select_from(MeetingRecord)
                .where(
                    col(MeetingRecord.tenant).in_(sorted(tenants)),
                    col(MeetingRecord.intent).is_not(None),
                )
            ).one()

    def live_meetings(self, tenant: str) -> int:
        count = 0
        for user in self.sandbox.tenant(tenant).users:
            if user.has_mailbox:
                count += len(
                    self.sandbox.calendars.events(
                        user.id, lambda e: e.is_organizer and not e.is_cancelled
                    )
                )
        return count


def write_config(root: Path, connection: Path, database_url: str) -> Path:
    """The cluster's config: every tenant reaching the running sandbox, one store."""
    tenants = [
        SandboxTenant(
            name,
            f"{name}.example",
            seed=40 + index,
            users=USERS,
            salesforce_events=EVENTS,
            connection_file=connection,
            schedules={
                "poll_seconds": 5,
                "responses_seconds": 30,
                "availability_seconds": 3600,
                "retry_failed_seconds": 30,
            },
        )
        for index, name in enumerate(TENANTS)
    ]
    # Every replica and API process reads the same key (as a credential would be).
    key = root / "master.key"
    root.mkdir(parents=True, exist_ok=True)
    key.write_text(uuid.uuid4().hex * 2)
    settings = f'log_level = "INFO"\nmaster_key = {{ file = "{key}" }}\n'
    return harness.write_config(root, *tenants, settings=settings, database_url=database_url)


@pytest.fixture
def cluster(tmp_path: Path, pg_schema: str) -> Iterator[Cluster]:
    specs = [
        SandboxTenantSpec(name, f"{name}.example", USERS, 40 + i, salesforce_events=EVENTS)
        for i, name in enumerate(TENANTS)
    ]
    engine = make_engine(pg_schema)
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=specs) as sandbox:
        connection = write_connection_file(sandbox)
        config_path = write_config(tmp_path / "config", connection, pg_schema)
        made = Cluster(sandbox, config_path, tmp_path, engine)
        try:
            yield made
        finally:
            for process in made.processes:
                if process.popen.poll() is None:
                    process.popen.kill()
                    process.popen.wait(30)
                process.log.close()
            engine.dispose()


# -------------------------------------------------------------------- the API


def token(api: Process, client_id: str, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return httpx.post(f"{api.url}/oauth/token", data=form, timeout=30)


def check_the_api_processes_answer_for_each_other(cluster: Cluster, a: Process, b: Process) -> None:
    created = cluster.syncd("clients", "create", "--tenant", "t1", "--json")
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)

    # Refresh-token rotation holds across processes: rotated by A, reused at B.
    first = token(a, client["client_id"], client["refresh_token"])
    assert first.status_code == 200, first.text
    reuse = token(b, client["client_id"], client["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant", reuse.text
    assert "already used" in reuse.json()["error_description"]
    # ...and the reuse revoked the whole family, the token A handed out included.
    rotated = token(a, client["client_id"], first.json()["refresh_token"])
    assert rotated.status_code == 400, rotated.text

    # One refresh token sent to both processes at the same moment: one use wins.
    # (Twice: a fifth failure from this address within 5 minutes would be slowed
    # down, by both processes, the failed attempts being counted in the store.)
    for _ in range(2):
        answers = both_at_once(a, b, created_client(cluster))
        assert sorted(r.status_code for r in answers) == [200, 400], [r.text for r in answers]

    # A meeting made through A is read, moved and cancelled through B (and back).
    other = created_client(cluster)
    fresh = token(a, other["client_id"], other["refresh_token"])
    assert fresh.status_code == 200, fresh.text
    access = fresh.json()["access_token"]
    users = [u.email for u in cluster.sandbox.tenant("t1").users if u.has_mailbox]
    meeting = {
        "id": f"replicas-{uuid.uuid4()}",
        "organizerEmail": users[0],
        "subject": "Quarterly review",
        "body": "agenda",
        "location": "MS Teams",
        "startTime": "2031-06-02T09:00:00Z",
        "endTime": "2031-06-02T10:00:00Z",
        "attendees": [{"email": users[1], "isRequired": True}],
    }
    ref = {"id": meeting["id"], "organizerEmail": meeting["organizerEmail"]}
    headers = {"Authorization": f"Bearer {access}", "Content-Type": "application/json"}
    with httpx.Client(headers=headers, timeout=60) as http:
        made = http.post(a.url + MEETING, content=json.dumps(meeting))
        assert made.status_code == 200, made.text
        again = http.post(b.url + MEETING, content=json.dumps(meeting))  # idempotent
        assert again.status_code == 200, again.text
        read = http.get(b.url + MEETING, params=ref)
        assert read.status_code == 200 and read.json()["subject"] == "Quarterly review", read.text
        moved = http.patch(
            b.url + MEETING, content=json.dumps({**ref, "subject": "Quarterly review (moved)"})
        )
        assert moved.status_code == 200, moved.text
        assert http.get(a.url + MEETING, params=ref).json()["subject"].endswith("(moved)")
        assert _outlook_copies(cluster, "t1", meeting["id"]) == 1
        cancelled = http.request("DELETE", a.url + MEETING, content=json.dumps(ref))
        assert cancelled.status_code == 200, cancelled.text
        gone = http.get(b.url + MEETING, params=ref)
        assert gone.status_code == 404 and gone.json()["errorCode"] == "MeetingNotFound"

    # HMAC replay protection holds across processes: accepted by A, a replay at B.
    hmac_client = json.loads(
        cluster.syncd("clients", "create", "--tenant", "t1", "--method", "hmac", "--json").stdout
    )
    path = f"{MEETING}?id={meeting['id']}&organizerEmail={meeting['organizerEmail']}"
    stamp = int(time.time())
    signed = sign_request(
        "GET", a.url + path, b"", hmac_client["client_id"], hmac_client["secret"], stamp
    )
    accepted = httpx.get(a.url + path, headers=signed, timeout=30)
    assert accepted.status_code in (200, 404), accepted.text  # authenticated: the meeting is gone
    assert accepted.json()["errorCode"] in ("NoError", "MeetingNotFound"), accepted.text
    replayed = httpx.get(b.url + path, headers=signed, timeout=30)
    assert replayed.status_code == 401, replayed.text
    assert "replay" in replayed.json()["errorMessage"]


def both_at_once(a: Process, b: Process, client: dict[str, str]) -> list[httpx.Response]:
    """The same refresh token sent to both API processes at the same moment."""
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def use(api: Process) -> None:
        barrier.wait()
        answers.append(token(api, client["client_id"], client["refresh_token"]))

    threads = [threading.Thread(target=use, args=(api,)) for api in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def created_client(cluster: Cluster) -> dict[str, str]:
    created = cluster.syncd("clients", "create", "--tenant", "t1", "--json")
    assert created.returncode == 0, created.stderr
    return json.loads(created.stdout)


def _outlook_copies(cluster: Cluster, tenant: str, external_id: str) -> int:
    from syncd.core.event_mapping import EXTERNAL_KEY_PROPERTY_ID
    from syncd.sandbox.microsoft.extended_props import lookup

    key = f"{tenant}:api:{external_id}"
    copies = 0
    for user in cluster.sandbox.tenant(tenant).users:
        if not user.has_mailbox:
            continue
        for event in cluster.sandbox.calendars.events(
            user.id, lambda e: e.is_organizer and not e.is_cancelled
        ):
            stamped = lookup(event.extended, EXTERNAL_KEY_PROPERTY_ID)
            copies += bool(stamped and stamped[1] == key)
    return copies


# ----------------------------------------------------------------------- test


def test_three_replicas_and_two_api_processes_survive_a_replica_killed_mid_sync(
    cluster: Cluster,
) -> None:
    # Every unit runs `syncd db upgrade` before it starts: at once, here.
    upgrades = [
        subprocess.Popen(
            [*SYNCD, "--config", str(cluster.config_path), "db", "upgrade"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=180)[0] for p in upgrades]
    assert [p.returncode for p in upgrades] == [0, 0, 0], outputs

    cluster.sandbox.faults.configure(latency_seconds=SLOW)
    replicas = [cluster.start(f"replica{i}", "run") for i in (1, 2, 3)]
    apis = [
        cluster.start(f"api{i}", "serve", "--port", str(p), port=p)
        for i, p in ((1, free_port()), (2, free_port()))
    ]

    # The victim: a replica that holds a tenant whose first sync is under way
    # (meetings reach Outlook while other creates are still in flight).
    def mid_sync() -> tuple[Process, set[str]] | None:
        held = cluster.holders()
        for replica in replicas:
            mine = {t for t, holder in held.items() if holder == replica.application_name}
            busy = [t for t in mine if cluster.live_meetings(t) and cluster.intents({t})]
            if busy:
                return replica, mine
        return None

    victim, victims_tenants = wait_until(mid_sync, "a replica in the middle of a sync", 120)
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait(30)
    survivors = [r for r in replicas if r is not victim]
    assert victim.popen.returncode == -signal.SIGKILL
    # Killed mid-sync: it left writes half done (intents without their Graph answer).
    assert cluster.intents(victims_tenants) > 0
    cluster.sandbox.faults.configure(latency_seconds=0.02)

    # The survivors take every tenant over (the victim's session, and locks, are gone).
    names = {r.application_name for r in survivors}
    wait_until(
        lambda: (held := cluster.holders()).keys() == set(TENANTS) and set(held.values()) <= names,
        f"the survivors to hold every tenant (holders: {cluster.holders()})",
        90,
    )
    for tenant in victims_tenants:
        wait_until(
            lambda tenant=tenant: any(f"took the lease of {tenant}" in r.text() for r in survivors),
            f"a survivor to log taking {tenant} over",
            10,
        )
    # `syncd status` tells the operator which replica runs each tenant, and from where.
    shown = cluster.syncd("status", "--json")
    assert shown.returncode == 0, shown.stderr
    leases = {row["tenant"]: row["lease"] for row in json.loads(shown.stdout)}
    assert leases.keys() == set(TENANTS)
    assert {lease.split(" from ")[0] for lease in leases.values()} <= names, leases

    # Any API process answers any request, with state only in the store.
    for api in apis:
        wait_until(
            lambda api=api: _healthy(api) or api.popen.poll() is not None, f"{api.name} up", 60
        )
        assert api.popen.poll() is None, api.text()
    check_the_api_processes_answer_for_each_other(cluster, *apis)

    # The end state of the crash-consistency tests, tenant by tenant.
    def converged() -> bool:
        return all(check(cluster.sandbox, tenant, responses=False).ok for tenant in TENANTS)

    deadline = time.monotonic() + 120
    while not converged():
        if time.monotonic() > deadline:
            reports = "\n".join(
                f"{t}: {check(cluster.sandbox, t, responses=False).summary()}" for t in TENANTS
            )
            pytest.fail(f"Outlook does not match Salesforce:\n{reports}")
        time.sleep(0.5)
    for tenant in TENANTS:
        report = check(cluster.sandbox, tenant, responses=False)
        assert report.valid > 0 and report.meetings == report.valid, report.summary()
        assert report.duplicates == [] and report.missing == [], report.summary()
    assert cluster.intents(set(TENANTS)) == 0

    # The leases spread: more than one replica ever held a tenant.
    held_by = {r.name for r in replicas if "took the lease of" in r.text()}
    assert len(held_by) >= 2, held_by

    for process in [*survivors, *apis]:
        process.popen.send_signal(signal.SIGTERM)
    for process in [*survivors, *apis]:
        # uvicorn re-raises SIGTERM once it has shut down (systemd counts that clean).
        clean = (0,) if process in survivors else (0, -signal.SIGTERM)
        assert process.popen.wait(60) in clean, process.text()[-3000:]
        assert "Traceback" not in process.text(), process.text()[-5000:]


def _healthy(api: Process) -> bool:
    try:
        return httpx.get(api.url + "/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
