"""`syncd retry`, `syncd pause`, `syncd resume` and `syncd --version`, through the CLI's
entry point against the end-to-end world's ledger and sandboxes."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from syncd.cli import main
from syncd.domain import MeetingStatus
from syncd.ledger import tenant_state as ts
from tests.sync_e2e.conftest import COLLEAGUE, NO_MAILBOX, TENANT, World


def syncd(world: World, *args: str) -> int:
    return main(["--config", str(world.config().path), *args])


def failed_event(world: World) -> str:
    event_id = world.create_event(NO_MAILBOX, subject="Unlicensed owner", invitees=[COLLEAGUE])
    world.service().poll()
    assert world.record(event_id).status == MeetingStatus.FAILED
    return event_id


def test_pause_and_resume(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert syncd(world, "pause", "--tenant", TENANT, "--reason", "org migration") == 0
    said = capsys.readouterr().out
    assert f"tenant {TENANT}: paused" in said and "Scheduler API keeps serving it" in said
    paused = ts.is_paused(world.runtime.engine, TENANT)
    assert paused is not None and paused.reason == "org migration"
    assert paused.by is not None and paused.by.endswith("(syncd pause)")

    assert syncd(world, "resume", "--tenant", TENANT) == 0
    assert "resumed" in capsys.readouterr().out
    assert ts.is_paused(world.runtime.engine, TENANT) is None
    assert syncd(world, "resume", "--tenant", TENANT) == 0
    assert "was not paused" in capsys.readouterr().out


def test_pause_of_an_unknown_tenant_is_refused(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert syncd(world, "pause", "--tenant", "nobody") == 2
    assert f"unknown tenant 'nobody' (configured: {TENANT})" in capsys.readouterr().err


def test_retry_one_record_makes_it_due_for_the_next_retry_pass(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id = failed_event(world)
    service = world.service()
    assert service.retry_failed().records_read == 0  # backing off

    assert syncd(world, "retry", event_id) == 0

    said = capsys.readouterr().out
    assert f"tenant {TENANT}: 1 failed record(s) due now" in said
    assert f"`syncd reconcile --tenant {TENANT}` takes them" in said
    world.user(NO_MAILBOX).has_mailbox = True
    assert service.retry_failed().records_read == 1
    assert world.record(event_id).status == MeetingStatus.SYNCED
    assert syncd(world, "retry", event_id, "--tenant", TENANT) == 0
    assert "has not failed: nothing to retry" in capsys.readouterr().out


def test_retry_failed_takes_every_failed_record_of_the_tenant(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    failed_event(world)
    failed_event(world)
    ts.pause(world.runtime.engine, TENANT, now=world.now(), by="ops", reason=None)

    assert syncd(world, "retry", "--failed", "--tenant", TENANT) == 0

    said = capsys.readouterr().out
    assert f"tenant {TENANT}: 2 failed record(s) due now" in said
    assert "they wait until `syncd resume" in said
    assert world.service().retry_failed().records_read == 2


def test_retry_of_an_unknown_record_says_where_to_look(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert syncd(world, "retry", "00U000000000000AAA") == 2
    assert "no Salesforce record '00U000000000000AAA' in any tenant" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        syncd(world, "retry", "00U000000000000AAA", "--failed")
    assert refused.value.code == 2


def test_version_comes_from_the_installed_distribution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"syncd {version('syncd')}"
