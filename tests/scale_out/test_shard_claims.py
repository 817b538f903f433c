"""One tenant's mailboxes in shards, in this process against the sandbox: the poll
writes at once only to the mailboxes of the shards its replica holds, claims the rest
in the ledger (no Graph call), and each shard's drain finishes its claims exactly once
and writes them back to Salesforce.

The replica's leases are stood in for by `owns` (which shards "this replica" holds):
the leases themselves are tested over PostgreSQL (test_shard_leases.py) and with
real replicas (test_shard_replicas.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.domain import Source
from syncd.ledger.shards import shard_of
from tests.harness import SandboxTenant, World, in_process_world, session_template
from tests.reliability.checker import check

TENANT = "big"
COUNT = 4
EVENTS_ROUTE = "/users/{user}/events"  # also the lookup by the syncd key ($filter)
BIG = SandboxTenant(TENANT, "fabrikam.example", seed=17, users=16, salesforce_events=40)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_template(tmp_path_factory, BIG)


@pytest.fixture
def world(tmp_path: Path, template: Path) -> Iterator[World]:
    with in_process_world(tmp_path, BIG, template) as built:
        yield built


def organizers_in_outlook(world: World) -> set[str]:
    """The mailboxes holding a meeting syncd made."""
    return {
        user.email.lower()
        for user in world.sandbox.tenant(TENANT).users
        if user.has_mailbox and world.sandbox.calendars.events(user.id, lambda e: e.is_organizer)
    }


def test_claims_wait_for_their_shards_holder_who_finishes_them_once(world: World) -> None:
    runtime = world.runtime
    assert runtime is not None
    # An Event of the organizer without a mailbox, whose shard is held elsewhere: its
    # claim fails when drained.
    lost = next(u.email for u in world.sandbox.tenant(TENANT).users if not u.has_mailbox)
    held_shards = {(shard_of(lost, COUNT) + 1) % COUNT, (shard_of(lost, COUNT) + 2) % COUNT}

    def held(email: str) -> bool:
        return shard_of(email, COUNT) in held_shards

    world.create_event(owner=lost)
    service = runtime.sync_service(TENANT, owns=held)
    service.poll()

    rows = [r for r in world.ledger_rows() if r.source == Source.SALESFORCE.value]
    claimed = [r for r in rows if r.intent is not None]
    # Both kinds exist in this org (else the test proves nothing).
    assert claimed and any(held(r.organizer_email) for r in rows)
    # Claimed: exactly the creates of mailboxes in shards held elsewhere, queued (no
    # Graph call has touched them)...
    assert {r.intent for r in claimed} == {"queued"}
    assert all(not held(r.organizer_email) for r in claimed)
    assert all(r.intent is None for r in rows if held(r.organizer_email))
    # ...and nothing reached those mailboxes, nor their Events' Outlook id field.
    assert all(held(email) for email in organizers_in_outlook(world)), organizers_in_outlook(world)
    outlook_id = runtime.config.tenants[TENANT].salesforce.fields.event.outlook_event_id
    assert all(not world.sf(r.external_id).get(outlook_id) for r in claimed)
    assert not check(world.sandbox, TENANT, responses=False).ok  # not done yet
    # Polled again before any drain came by: the claims are left to the drains, not
    # written by the poll (which would queue with the drain for each meeting).
    posts = len(world.graph_log("POST"))
    service.poll()
    assert len(world.graph_log("POST")) == posts
    assert {r.external_id for r in world.ledger_rows() if r.intent} == {
        r.external_id for r in claimed
    }

    # The holders of shards 2 and 3 drain them (another replica: a service of its own).
    holder = runtime.sync_service(TENANT, owns=lambda email: not held(email))
    lookups = len(world.graph_log("GET", EVENTS_ROUTE))
    envelopes = world.sandbox.counters.per_route["POST /$batch"]
    reports = [
        holder.shard_drain(index, COUNT, should_stop=lambda: False).run()
        for index in range(COUNT)
        if index not in held_shards
    ]
    assert sum(r.finished for r in reports) + sum(len(r.failed) for r in reports) == len(claimed)
    assert world.unfinished_intents() == 0
    # Queued creates go out without a lookup first, in $batch envelopes.
    assert len(world.graph_log("GET", EVENTS_ROUTE)) == lookups
    assert world.sandbox.counters.per_route["POST /$batch"] > envelopes
    # A claim that fails (an organizer without a mailbox) keeps its failure and back-off
    # in the ledger, as a write run at once does, and so is retried.
    failed = [external_id for r in reports for external_id, _ in r.failed]
    assert failed, "the org has an organizer without a mailbox"
    for external_id in failed:
        row = world.record(external_id)
        assert row.last_error_code == "OrganizerNotFound" and row.next_attempt_at is not None
    report = check(world.sandbox, TENANT, responses=False)
    assert report.ok and report.valid > 0, report.summary()
    written = [world.sf(r.external_id) for r in claimed if r.external_id not in failed]
    assert written and all(event.get(outlook_id) for event in written)
    status = runtime.config.tenants[TENANT].salesforce.fields.event.sync_status
    assert all(world.sf(external_id)[status] == "Failed" for external_id in failed)

    # Drained again, or by the other replica's drains: nothing left, no Graph call.
    calls = world.graph_calls()
    again = [holder.shard_drain(i, COUNT, should_stop=lambda: False).run() for i in range(COUNT)]
    again += [service.shard_drain(i, COUNT, should_stop=lambda: False).run() for i in range(COUNT)]
    assert sum(r.finished for r in again) == 0
    assert world.graph_calls() == calls


def test_a_drain_leaves_claims_of_other_shards_and_steps_running_here(world: World) -> None:
    runtime = world.runtime
    assert runtime is not None
    service = runtime.sync_service(TENANT, owns=lambda _email: False)  # holds no shard
    service.poll()
    claimed = [r for r in world.ledger_rows() if r.intent is not None]
    assert claimed
    # The tenant's resume (a new holder of its lease) leaves them to their shards' drains.
    assert service.resume() == 0
    assert len([r for r in world.ledger_rows() if r.intent is not None]) == len(claimed)
    first = claimed[0]
    index = shard_of(first.organizer_email, COUNT)
    # A step of this process still running (its intent is in the ledger) is left alone.
    service.in_flight.add(first.external_id)
    drained = service.shard_drain(index, COUNT, should_stop=lambda: False).run()
    mine = [r for r in claimed if shard_of(r.organizer_email, COUNT) == index]
    assert drained.finished + len(drained.failed) == len(mine) - 1
    left = {r.external_id for r in world.ledger_rows() if r.intent is not None}
    assert left == {r.external_id for r in claimed if r not in mine} | {first.external_id}
