"""`syncd run` as a real process: a paused tenant's jobs are skipped and the log says so;
once resumed (`syncd resume`), its poll runs and the operator state records it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.config import load_config
from syncd.ledger import tenant_state as ts
from syncd.ledger.db import make_engine, upgrade
from syncd.sandbox.server import SandboxTenantSpec, start_sandbox, write_connection_file
from tests.daemon.helpers import (
    DOMAIN,
    REPO,
    SYNCD,
    TENANT,
    World,
    outlook_meetings,
    write_demo_config,
)
from tests.support import wait_until


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    spec = SandboxTenantSpec(TENANT, DOMAIN, users=25, seed=42, salesforce_events=6)
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=[spec]) as sandbox:
        config_path = write_demo_config(tmp_path / "config", write_connection_file(sandbox))
        upgrade(load_config(config_path).database_url)
        yield World(sandbox, config_path, tmp_path, TENANT)


def test_the_daemon_skips_a_paused_tenant_until_it_is_resumed(world: World, tmp_path: Path) -> None:
    config = str(world.config_path)
    assert main(["--config", config, "pause", "--tenant", TENANT, "--reason", "cut-over"]) == 0
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*SYNCD, "--config", config, "run"], stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
    engine = make_engine(world.config().database_url)
    try:
        wait_until(
            lambda: (
                "poll skipped: tenant demo is paused" in log_path.read_text()
                or process.poll() is not None
            ),
            "the daemon to skip the paused tenant's poll",
            60,
        )
        assert process.poll() is None, log_path.read_text()
        assert "by " in log_path.read_text() and ": cut-over" in log_path.read_text()
        assert outlook_meetings(world.sandbox) == []
        state = ts.read_state(engine, TENANT)
        assert state is not None and state.poll_at is None

        assert main(["--config", config, "resume", "--tenant", TENANT]) == 0
        wait_until(lambda: outlook_meetings(world.sandbox), "meetings in Outlook", 60)

        def polled() -> ts.TenantState | None:
            found = ts.read_state(engine, TENANT)
            return found if found is not None and found.poll_at is not None else None

        state = wait_until(polled, "the poll job's record in the operator state", 60)
        assert state.poll_records is not None and state.poll_records > 0
        assert state.salesforce_used is not None and state.salesforce_max
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        engine.dispose()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log_path.read_text()
