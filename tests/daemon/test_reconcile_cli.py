"""`syncd reconcile` and `syncd status` against a sandbox that outlives them (the
tenant's `[sandbox] connection_file`): as processes where the process matters
(exit status, a terminal, state that must last between runs), else through
`syncd.cli.main` in this process, which is what the console script runs."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import re
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from syncd.cli import main
from syncd.config import load_config
from syncd.domain import ErrorCode, SyncdError
from syncd.graph.client import GraphClient
from syncd.ledger import queries as lq
from syncd.ledger.db import make_engine, upgrade
from syncd.ledger.models import MeetingRecord
from syncd.runtime import build_runtime
from syncd.sandbox.salesforce.generator import add_events
from syncd.sandbox.server import RunningSandbox
from syncd.sync.poll import PAGES_IN_FLIGHT
from syncd.sync.reader import PAGE
from syncd.sync.service import FEED_EVENT
from syncd.sync_commands import reconcile
from tests.daemon.helpers import (
    REPO,
    SYNCD,
    TENANT,
    World,
    drop_events_without_mailbox,
    mailbox_users,
    outlook_meetings,
    write_demo_config,
)

INVALID_REASON = "EndDateTime is not after StartDateTime"


def writes_so_far(sandbox: RunningSandbox) -> tuple[dict[str, int], int]:
    """(Graph requests other than GET by route, Salesforce records written) so far."""
    graph = {r: n for r, n in sandbox.counters.per_route.items() if not r.startswith("GET ")}
    return graph, sandbox.org(TENANT).state.counters.snapshot()["records_written"]


def status_json(world: World, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`syncd status --json`: the tenant's row."""
    code, shown, err = cli(world.config_path, "status", "--json", capsys=capsys)
    assert code == 0, err
    rows = json.loads(shown)
    assert [row["tenant"] for row in rows] == [TENANT]
    return rows[0]


def cli(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`syncd --config CONFIG ARGS` in this process (quicker than a process; the
    console script is `sys.exit(main())`): exit status, stdout, stderr."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    capsys.readouterr()
    try:
        status = main(["--config", str(config), *args])
    finally:
        # main() sets up logging to the (captured) stderr of this test only.
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
        root.setLevel(level)
    out, err = capsys.readouterr()
    return status, out, err


def test_dry_run_then_a_pass_then_a_failed_record(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    drop_events_without_mailbox(world.sandbox)  # they fail by design; this pass must not

    # --dry-run: the plan, one line per create, and nothing changes anywhere.
    before = writes_so_far(world.sandbox)
    dry = world.syncd("reconcile", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    header = re.search(
        r"tenant demo: full resync, (\d+) records read; would: create (\d+)\n", dry.stdout
    )
    assert header, dry.stdout
    planned = int(header[2])
    creates = re.findall(r"^  create +(\w+) +new in Salesforce$", dry.stdout, re.MULTILINE)
    assert planned > 0 and len(creates) == planned == len(set(creates))
    assert outlook_meetings(world.sandbox) == []
    assert writes_so_far(world.sandbox) == before == ({}, 0)
    assert "reading Salesforce Events" not in dry.stderr  # no terminal, no progress line
    never = status_json(world, capsys)
    assert never["last_poll"] is None and never["backlog"] == 0
    assert set(never["counts"].values()) == {0}

    # A real pass (in this process, to keep the test quick): the counts, exit
    # 0, every planned meeting in Outlook.
    code, done, err = cli(world.config_path, "reconcile", capsys=capsys)
    assert code == 0, done + err
    assert f"did: create {planned}\n" in done
    assert "failed" not in done
    assert "tenant demo: responses checked on" in done
    assert "tenant demo: availability of" in done
    assert len(outlook_meetings(world.sandbox)) == planned
    synced = status_json(world, capsys)
    assert synced["counts"]["synced"] == planned
    assert synced["backlog"] == 0 and synced["failures"] == []
    polled = datetime.fromisoformat(str(synced["last_poll"]))
    assert abs(datetime.now(UTC) - polled) < timedelta(hours=1)

    # An Event that cannot become a meeting: exit 1, counted on stdout, its id and why
    # in one WARNING line on stderr (the report does not repeat it).
    owner = next(iter(mailbox_users(world.sandbox)))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    bad = world.org.create_event(owner, "Zero-length call", start, start)
    failed = world.syncd("reconcile")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "incremental poll" in failed.stdout
    assert "fail 1" in failed.stdout and bad not in failed.stdout
    assert f" WARNING syncd.sync.executor [tenant=demo cid=sf-{bad}] event {bad} failed: " in (
        failed.stderr
    )
    assert INVALID_REASON in failed.stderr
    assert len(outlook_meetings(world.sandbox)) == planned

    # status, for people and as JSON: last poll, counts, backlog, the failure.
    text = world.syncd("status")
    assert text.returncode == 0, text.stderr
    assert re.search(r"last poll \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text.stdout), text.stdout
    assert f"synced {planned}, pending 0, failed 1, cancelled 0); backlog 1 " in text.stdout
    assert f"  failed {bad}: {INVALID_REASON}\n" in text.stdout
    row = status_json(world, capsys)
    assert row["counts"] == {"pending": 0, "synced": planned, "failed": 1, "cancelled": 0}
    assert row["backlog"] == 1 and row["failures_total"] == 1
    assert row["failures"] == [{"id": bad, "reason": INVALID_REASON}]
    assert str(row["last_poll"]).endswith("Z")


def test_a_dry_run_writes_nothing_to_outlook(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # A dry run may read (all-day meetings need the organizer's mailbox time zone
    # to be planned right) but never creates, changes or cancels anything.
    code, out, err = cli(world.config_path, "reconcile", "--dry-run", capsys=capsys)
    assert code == 0 and "would: create" in out, out + err
    logged = world.sandbox.counters.requests()
    # A $batch is a POST that carries reads; its inner requests are logged one by one.
    writes = [r for r in logged if r.method != "GET" and "$batch" not in r.path]
    assert writes == [], writes


def test_a_pass_with_a_record_that_fails_in_outlook_exits_1(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo org has Events owned by people without a mailbox: Graph refuses them.
    code, out, err = cli(world.config_path, "reconcile", "--tenant", TENANT, capsys=capsys)
    assert code == 1, out + err
    failures = re.findall(r" WARNING .* event (\w+) failed: organizer .* has no mailbox", err)
    assert failures, err
    assert "OrganizerNotFound" not in out  # counted in the report, not repeated
    code, out, _ = cli(world.config_path, "status", "--json", capsys=capsys)
    [row] = json.loads(out)
    assert {f["id"] for f in row["failures"]} == set(failures)
    assert row["due_for_retry"] == 0  # backed off: the next attempt is minutes away


def test_setup_errors_exit_2_naming_what_is_wrong(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant_file = world.config_path.parent / "tenants" / f"{TENANT}.toml"
    good = tenant_file.read_text()
    tenant_file.write_text(good.replace("poll_seconds = 5", "poll_seconds = 1"))
    result = world.syncd("reconcile")  # once as a process: the real exit status
    errors = [(result.returncode, result.stderr)]
    for command in (["reconcile", "--dry-run"], ["status"], ["run"]):
        code, _, err = cli(world.config_path, *command, capsys=capsys)
        errors.append((code, err))
    for code, err in errors:
        assert code == 2, err
        assert str(tenant_file) in err, err
        assert "salesforce.schedules.poll_seconds" in err, err
    tenant_file.write_text(good)

    code, _, err = cli(world.config_path, "reconcile", "--tenant", "nobody", capsys=capsys)
    assert code == 2 and "unknown tenant 'nobody'" in err

    connection = world.root / "sandbox" / "connection.json"
    fresh = write_demo_config(tmp_path / "fresh", connection)  # a store never upgraded
    for command in (["reconcile"], ["status"], ["run"]):
        code, _, err = cli(fresh, *command, capsys=capsys)
        assert code == 2, (command, err)
        assert "syncd db upgrade" in err

    # Credentials Salesforce refuses: the pass stops, and that is a setup error too.
    details = json.loads(connection.read_text())
    details["tenants"][0]["salesforce"]["client_secret"] = "not-the-secret"
    wrong = tmp_path / "wrong-secret.json"
    wrong.write_text(json.dumps(details))
    refused_config = write_demo_config(tmp_path / "refused", wrong)
    upgrade(load_config(refused_config).database_url)
    code, out, err = cli(refused_config, "reconcile", capsys=capsys)
    assert code == 2, out + err
    assert "syncd: tenant demo: the pass stopped: " in err
    assert "(AccessDenied)" in err, err


def test_progress_goes_to_a_terminal_on_stderr_never_into_stdout(world: World) -> None:
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [*SYNCD, "--config", str(world.config_path), "reconcile", "--dry-run"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
            check=False,
            cwd=REPO,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
        )
        os.close(terminal)
        terminal = -1
        shown = _read_all(controller)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert result.returncode == 0, result.stdout
    assert "demo: reading Salesforce Events" in shown
    assert "reading Salesforce Events" not in result.stdout
    assert "\x1b" not in result.stdout
    assert "would: create" in result.stdout


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_a_write_that_fails_again_on_resume_does_not_block_the_pass(world: World) -> None:
    # Leave every create half done, as a run killed mid-write would.
    runtime = build_runtime(world.config())
    try:
        graph = runtime.graphs[TENANT]

        def connection_lost(*_args: object, **_kwargs: object) -> object:
            raise SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "the connection went down")

        # One create or a $batch of them: the connection goes down either way.
        graph.create_event = graph.create_events = connection_lost  # type: ignore[method-assign]
        runtime.sync_service(TENANT).poll()
    finally:
        runtime.close()
    assert outlook_meetings(world.sandbox) == []

    out = io.StringIO()
    status = reconcile(
        world.config(), tenant=None, dry_run=False, full=False, show_plan=False, out=out
    )
    report = out.getvalue()
    # One of them belongs to an owner without a mailbox: it fails for good...
    assert re.search(r"tenant demo: [1-9]\d* unfinished earlier writes failed again", report)
    # ...and the pass still runs, and the others reach Outlook.
    assert "tenant demo: incremental poll" in report
    assert "tenant demo: availability of" in report
    assert outlook_meetings(world.sandbox)
    assert status == 1


def test_a_signal_stops_the_pass_between_steps_without_claiming_the_rest(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # More pages (PAGE Events each) than the pass carries out at once (PAGES_IN_FLIGHT): the first
    # page's first $batch of creates signals, and the fourth page is handed on only once
    # the first has ended, by when the handler has run (the main thread waits on that
    # page, and a signal's handler runs there). Pages two and three may have started
    # every step before the signal: with fewer pages the test could not tell.
    add_events(
        world.org,
        PAGE * PAGES_IN_FLIGHT + 50,
        owners=list(mailbox_users(world.sandbox)),
        start=datetime.now(UTC).date() + timedelta(days=1),
    )
    create_events = GraphClient.create_events
    signalled = threading.Event()

    def create_then_signal(self: GraphClient, *args: object, **kwargs: object) -> object:
        if not signalled.is_set():
            signalled.set()
            # What systemd does to a timer's pass on `systemctl stop` (SIGINT
            # here: should the handler be missing, pytest sees a KeyboardInterrupt).
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # a $batch takes a while: the handler runs meanwhile
        return create_events(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(GraphClient, "create_events", create_then_signal)
    out = io.StringIO()
    status = reconcile(
        world.config(), tenant=None, dry_run=False, full=False, show_plan=False, out=out
    )
    assert signalled.is_set()
    assert status == 1, out.getvalue()
    assert "interrupted: the pass stopped between pages" in capsys.readouterr().err
    read = re.search(r"full resync, (\d+) records read", out.getvalue())
    assert read, out.getvalue()
    assert "responses checked" not in out.getvalue()
    assert outlook_meetings(world.sandbox)
    config = world.config()
    engine = make_engine(config.database_url)
    try:
        assert lq.get_watermark(engine, TENANT, FEED_EVENT) is None
        with Session(engine) as session:
            rows = list(session.exec(select(MeetingRecord)))
    finally:
        engine.dispose()
    # Steps already running finished; the rest were never started (no ledger
    # row), and the watermark did not move past them.
    assert [r.external_id for r in rows if r.intent is not None] == []
    assert 0 < len(rows) < int(read[1])
