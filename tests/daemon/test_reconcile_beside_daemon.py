"""`syncd reconcile` beside a running `syncd run` on the same store: it refuses the
tenant whose lease the daemon holds (exit 3, saying so and what to do), a dry run
still reads and plans (it writes nothing), and once the daemon stops it runs."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests import store_routing
from tests.daemon.helpers import REPO, SYNCD, TENANT, World, outlook_meetings
from tests.support import wait_until


def test_reconcile_refuses_while_a_daemon_holds_the_tenant(world: World, tmp_path: Path) -> None:
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [*SYNCD, "--config", str(world.config_path), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        wait_until(lambda: outlook_meetings(world.sandbox), "the daemon's first meetings", 60)
        assert daemon.poll() is None, log_path.read_text()

        busy = world.syncd("reconcile")
        assert busy.returncode == 3, busy.stdout + busy.stderr
        where = "syncd-replica" if store_routing.active() else "another syncd process"
        assert f"tenant {TENANT}: skipped: a running daemon holds its lease ({where}" in (
            busy.stdout
        )
        assert "Stop the daemon first" in busy.stdout

        planned = world.syncd("reconcile", "--dry-run")
        assert planned.returncode in (0, 1), planned.stdout + planned.stderr
        assert "skipped" not in planned.stdout

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0, log_path.read_text()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    done = world.syncd("reconcile")
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: Events without mailbox
    assert "skipped" not in done.stdout and f"tenant {TENANT}" in done.stdout
