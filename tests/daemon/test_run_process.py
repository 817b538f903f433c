"""`syncd run --api` as systemd runs it: a real process with NOTIFY_SOCKET and the
watchdog on, syncing with a sandbox started by the test, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import requests
from sqlmodel import Session, select

from syncd.ledger.db import make_engine
from syncd.ledger.models import MeetingRecord
from tests.daemon.helpers import REPO, SYNCD, NotifyListener, World, outlook_meetings
from tests.support import free_port, wait_until


def test_syncd_run_under_systemd_protocol(
    world: World, notify_socket: NotifyListener, tmp_path: Path
) -> None:
    upgraded = world.syncd("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "state store is up to date" in upgraded.stdout

    port = free_port()
    env = {
        **os.environ,
        "NOTIFY_SOCKET": notify_socket.address,
        "WATCHDOG_USEC": "1000000",  # systemd's WatchdogSec=1s: a ping every 0.5 s
    }
    env.pop("WATCHDOG_PID", None)
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*SYNCD, "--config", str(world.config_path), "run", "--api", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
    try:
        wait_until(
            lambda: "READY=1" in notify_socket.lines() or process.poll() is not None,
            "READY=1",
            timeout=60,
        )
        assert process.poll() is None, log_path.read_text()
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        meetings = wait_until(lambda: outlook_meetings(world.sandbox), "meetings in Outlook")
        notify_socket.wait_for("WATCHDOG=1", count=2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = log_path.read_text()
    lines = notify_socket.lines()
    assert "STOPPING=1" in lines and lines.index("READY=1") < lines.index("STOPPING=1")
    assert "received SIGTERM" in log and "daemon stopped" in log, log
    assert "Traceback" not in log, log

    # Nothing half-written: every ledger row is settled and Outlook agrees with it.
    engine = make_engine(world.config().database_url)
    try:
        with Session(engine) as session:
            rows = list(session.exec(select(MeetingRecord)))
    finally:
        engine.dispose()
    assert [r.external_id for r in rows if r.intent is not None] == []
    assert set(meetings) <= {r.graph_event_id for r in rows}
    assert outlook_meetings(world.sandbox) == sorted(
        str(r.graph_event_id) for r in rows if r.status == "synced"
    )
