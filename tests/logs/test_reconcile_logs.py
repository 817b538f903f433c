"""What `syncd reconcile` logs, as a process against the sandbox: each failing record
is one WARNING line (the summary counts it, it does not repeat it), and with
`log_format = "json"` every line is a JSON object carrying the context fields."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlmodel import Session, col, select

from syncd.ledger.db import make_engine
from syncd.ledger.models import MeetingRecord
from tests.daemon.helpers import TENANT, World, mailbox_users

FIELDS = {
    "time",
    "level",
    "logger",
    "message",
    "tenant",
    "correlation_id",
    "salesforce_id",
    "graph_request_id",
}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def failed_ids(world: World) -> set[str]:
    engine = make_engine(world.config().database_url)
    try:
        with Session(engine) as session:
            erred = col(MeetingRecord.last_error_code).is_not(None)
            rows = session.exec(select(MeetingRecord.external_id).where(erred)).all()
    finally:
        engine.dispose()
    return set(rows)


def add_invalid_event(world: World) -> str:
    """An Event that ends when it starts: planned as a failure, never sent to Graph."""
    owner = next(iter(mailbox_users(world.sandbox)))
    start = world.sandbox.clock.now().replace(microsecond=0) + timedelta(days=2)
    return str(world.org.create_event(owner, "Zero-length call", start, start))


def test_a_failing_record_is_one_warning_line(process_world: World) -> None:
    invalid = add_invalid_event(process_world)
    result = process_world.syncd("reconcile", "--log-level", "INFO")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = failed_ids(process_world)
    assert invalid in failed and len(failed) > 1  # the demo's Events without a mailbox too
    lines = (result.stdout + result.stderr).splitlines()
    for event_id in failed:
        mentions = [line for line in lines if event_id in line]
        assert len(mentions) == 1, mentions
        assert " WARNING syncd." in mentions[0] and "failed" in mentions[0]
    # The summary counts them.
    assert re.search(rf"tenant {TENANT}: .*fail {len(failed)}\b", result.stdout), result.stdout


def test_json_lines_parse_and_carry_the_context(process_world: World) -> None:
    with process_world.config_path.open("a") as config:  # the file has no tables: a top-level key
        config.write('log_format = "json"\n')
    result = process_world.syncd("reconcile", "--log-level", "INFO")
    assert result.returncode == 1, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert entries and all(set(entry) >= FIELDS for entry in entries)
    assert all(entry["time"].endswith("Z") for entry in entries)
    failures = [e for e in entries if e["level"] == "WARNING" and "failed" in e["message"]]
    assert failures
    for entry in failures:
        assert entry["tenant"] == TENANT
        assert entry["logger"] == "syncd.sync.executor"
        assert entry["salesforce_id"] and entry["salesforce_id"] in entry["message"]
        assert entry["correlation_id"] == f"sf-{entry['salesforce_id']}"
        # Graph refused the create: its request-id is on the line, for a support case.
        assert GUID.match(entry["graph_request_id"] or ""), entry
    assert {e["salesforce_id"] for e in failures} == failed_ids(process_world)
