"""A $batch envelope that fails as a whole (424) is not the end of its requests.

"Requests in a batch are evaluated individually against throttling limits and if any
request exceeds the limits, it fails with a status of 429 ... The batch itself fails
with a status code of 424 (Failed Dependency)"
(https://learn.microsoft.com/graph/throttling#throttling-and-batching), while
json-batching says the envelope answers 200 whenever it parses. The client reads both:
each request keeps the answer the envelope carries, the others are sent again, within
the call's retry budget. The real client against the sandbox, whose fault knobs fail
envelopes whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from syncd.domain import ErrorCode, SyncdError
from syncd.graph import GraphClient
from syncd.sandbox import RunningSandbox, SandboxTenantSpec, start_sandbox
from syncd.sandbox.faults import BatchFailure, ForcedFailure
from syncd.sandbox.microsoft.directory import DirectoryUser

from .conftest import RecordingSleep
from .test_against_sandbox import make_client, payload


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    specs = [SandboxTenantSpec("Contoso", "contoso.example", users=8, seed=42)]
    with start_sandbox(state_dir=tmp_path_factory.mktemp("batch-424"), tenants=specs) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox: RunningSandbox) -> Iterator[None]:
    sandbox.reset(events=True)
    yield
    sandbox.reset(events=True)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def people(sandbox: RunningSandbox) -> list[DirectoryUser]:
    return [u for u in sandbox.tenant().users if u.has_mailbox]


def three_events(client: GraphClient, people: list[DirectoryUser]) -> list[tuple[str, str]]:
    items = []
    for n in range(3):
        mailbox = people[n].email
        created = client.create_event(mailbox, payload(people[n + 1].email, f"contoso:api:f{n}"))
        items.append((mailbox, created["id"]))
    return items


def envelopes(sandbox: RunningSandbox) -> int:
    return sandbox.counters.per_route["POST /$batch"]


def test_a_throttled_request_failing_its_batch_whole_is_sent_again_alone(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    client = make_client(sandbox, sleep)
    items = three_events(client, people)
    sandbox.faults.configure(throttled_batch_status=424, retry_after_seconds=2)
    sandbox.faults.fail_next(ForcedFailure(429, mailbox=people[1].email, retry_after=2))

    answers = client.get_events_batch(items, select=["subject"])

    assert [a.status for a in answers] == [200, 200, 200]
    assert [a.body["id"] for a in answers] == [graph_id for _, graph_id in items]
    assert envelopes(sandbox) == 2  # the first failed whole (424), the second held one
    assert sandbox.counters.per_status[424] == 1
    assert sandbox.counters.snapshot()["batch_inner_requests"] == 3 + 1
    assert sleep.waits == [2.0]  # the throttled request's own Retry-After


def test_a_batch_failed_whole_without_answers_is_sent_again_whole(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    client = make_client(sandbox, sleep)
    items = three_events(client, people)
    sandbox.faults.configure(retry_after_seconds=3)
    sandbox.faults.fail_next_batch(BatchFailure(424, run_requests=False))

    answers = client.get_events_batch(items, select=["subject"])

    assert [a.status for a in answers] == [200, 200, 200]
    assert envelopes(sandbox) == 2
    assert sandbox.counters.snapshot()["batch_inner_requests"] == 3  # none ran the first time
    assert sleep.waits == [3.0]  # the envelope's Retry-After


def test_a_batch_failing_whole_again_and_again_gives_up_within_the_budget(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    client = make_client(sandbox, sleep, max_retries=2)
    items = three_events(client, people)
    sandbox.faults.fail_next_batch(*[BatchFailure(424, run_requests=False)] * 5)

    answers = client.get_events_batch(items, select=["subject"])

    assert [a.status for a in answers] == [424, 424, 424]  # not done: the caller decides
    assert envelopes(sandbox) == 3  # the first try and 2 retries, no more
    assert len(sleep.waits) == 2


def test_a_request_its_batch_never_carried_out_is_an_outage_not_a_refusal(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    """Left with 424 after the retries, a request was not done: retryable, unlike a 4xx
    that says the request itself is wrong."""
    client = make_client(sandbox, sleep, max_retries=1)
    sandbox.faults.fail_next_batch(*[BatchFailure(424, run_requests=False)] * 2)
    start = datetime(2030, 5, 6, 8, 0, tzinfo=UTC)
    addresses = [p.email for p in people[:3]]

    with pytest.raises(SyncdError) as caught:
        # Two periods of free/busy: two requests, so they go through one $batch.
        client.get_schedule(addresses[0], addresses, start, start + timedelta(days=70))

    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE and caught.value.retryable
    assert "424" in caught.value.message
