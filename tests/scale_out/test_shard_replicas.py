"""One large tenant over two `syncd run` replicas and one PostgreSQL, its mailboxes in
four shards: both replicas work for it (each holds shards), a replica killed in the
middle of the first sync has its shards taken over and the writes claimed for them
finished exactly once, and `syncd reconcile` refuses while a daemon holds the
tenant's leases, and runs once none does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from syncd.ledger.db import make_engine
from syncd.ledger.lease import holders
from syncd.ledger.models import MeetingRecord
from syncd.ledger.shards import shard_leases, shard_of
from syncd.sandbox.server import (
    RunningSandbox,
    SandboxTenantSpec,
    start_sandbox,
    write_connection_file,
)
from tests import harness
from tests.harness import SandboxTenant
from tests.reliability.checker import check
from tests.scale_out.test_replicas import REPO, SYNCD
from tests.support import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(600)]

TENANT = "big"
SHARDS = 4
LEASES = [TENANT, *shard_leases(TENANT, SHARDS)]
EVENTS = 80
USERS = 30
#: Graph latency during the first sync: claimed writes wait in the ledger a while.
SLOW = 1.0


def pending(engine: Engine, shard: int | None = None) -> int:
    """Claimed or unfinished writes (rows with an intent), in one shard or in all."""
    with Session(engine) as session:
        rows = session.exec(
            select(MeetingRecord.organizer_email).where(col(MeetingRecord.intent).is_not(None))
        ).all()
    return sum(1 for email in rows if shard is None or shard_of(email, SHARDS) == shard)


@pytest.fixture
def world(tmp_path: Path, pg_schema: str) -> Iterator[tuple[RunningSandbox, Path, Engine]]:
    spec = SandboxTenantSpec(TENANT, "tailspin.example", USERS, 23, salesforce_events=EVENTS)
    engine = make_engine(pg_schema)
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=[spec]) as sandbox:
        tenant = SandboxTenant(
            TENANT,
            "tailspin.example",
            seed=23,
            users=USERS,
            salesforce_events=EVENTS,
            connection_file=write_connection_file(sandbox),
            schedules={"poll_seconds": 5, "responses_seconds": 3600, "retry_failed_seconds": 30},
        )
        key = tmp_path / "master.key"
        key.write_text(uuid.uuid4().hex * 2)
        settings = (
            f'log_level = "INFO"\nmaster_key = {{ file = "{key}" }}\n'
            f"[scale]\nmailbox_shards = {SHARDS}\ndrain_seconds = 0.5\n"
        )
        config = harness.write_config(
            tmp_path / "config", tenant, settings=settings, database_url=pg_schema
        )
        try:
            yield sandbox, config, engine
        finally:
            engine.dispose()


def syncd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCD, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )


def test_two_replicas_share_a_tenants_shards_and_survive_one_killed(
    world: tuple[RunningSandbox, Path, Engine], tmp_path: Path
) -> None:
    sandbox, config, engine = world
    assert syncd(config, "db", "upgrade").returncode == 0
    sandbox.faults.configure(latency_seconds=SLOW)
    logs = [tmp_path / f"replica{i}.log" for i in (1, 2)]
    replicas = [
        subprocess.Popen(
            [*SYNCD, "--config", str(config), "run"],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for log in logs
    ]
    try:
        name = {f"syncd-replica {p.pid}": p for p in replicas}

        # Both replicas hold shards; the one without the tenant's lease drains what the
        # other's poll claimed for its mailboxes. It is killed while claims of its
        # shards wait (Graph is slow): it dies with its shards' work unfinished.
        def victim() -> tuple[subprocess.Popen[bytes], list[int]] | None:
            held = holders(engine, LEASES)
            owner = held.get(TENANT)
            for holder, process in name.items():
                mine = [i for i, s in enumerate(LEASES[1:]) if held.get(s) == holder]
                if holder != owner and mine and sum(pending(engine, i) for i in mine):
                    return process, mine
            return None

        killed, shards = wait_until(victim, "a replica holding shards with claims waiting", 120)
        other = next(p for p in replicas if p is not killed)
        owner = holders(engine, LEASES)[TENANT]
        assert owner == f"syncd-replica {other.pid}"
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
        assert sum(pending(engine, i) for i in shards) > 0  # left for whoever takes over
        sandbox.faults.configure(latency_seconds=0.02)

        # The survivor takes every shard over and finishes the claims: each Event one
        # meeting, none twice, every claim done, Salesforce told.
        wait_until(
            lambda: (
                set(holders(engine, LEASES).values()) == {owner}
                and len(holders(engine, LEASES)) == len(LEASES)
            ),
            f"the survivor to hold every lease ({holders(engine, LEASES)})",
            60,
        )
        # `syncd status` names the replica that holds each shard, and from where.
        shown = syncd(config, "status", "--json")
        assert shown.returncode == 0, shown.stderr
        (row,) = json.loads(shown.stdout)
        assert [held.split(" from ")[0] for held in row["shards"]] == [owner] * SHARDS, row
        told = syncd(config, "status").stdout
        assert f"  mailbox shards: 0, 1, 2, 3 {owner} from " in told, told
        wait_until(
            lambda: pending(engine) == 0 and check(sandbox, TENANT, responses=False).ok,
            "Outlook and Salesforce to match",
            180,
        )
        report = check(sandbox, TENANT, responses=False)
        assert report.valid > 0 and report.meetings == report.valid, report.summary()
        assert report.duplicates == [] and report.missing == [], report.summary()
        assert "took the lease of big.shard-" in logs[replicas.index(killed)].read_text()
        taken_over = logs[replicas.index(other)].read_text()
        assert all(f"took the lease of {LEASES[1 + i]}" in taken_over for i in shards)

        # reconcile while the daemon runs: refused, and told who holds the lease.
        busy = syncd(config, "reconcile")
        assert busy.returncode == 3, busy.stdout + busy.stderr
        assert f"a running daemon holds its lease (syncd-replica {other.pid} from" in busy.stdout
        assert "Stop the daemon first" in busy.stdout

        other.send_signal(signal.SIGTERM)
        assert other.wait(60) == 0
        done = syncd(config, "reconcile")
        assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: Events without mailbox
        assert "skipped" not in done.stdout and f"tenant {TENANT}" in done.stdout
        assert holders(engine, LEASES) == {}  # reconcile let go of them all
        for log in logs:
            assert "Traceback" not in log.read_text(), log.read_text()[-4000:]
    finally:
        for process in replicas:
            if process.poll() is None:
                process.kill()
                process.wait(30)
