"""GraphClient.create_events against the sandbox: creates through $batch, each answered on
its own; inner 429s and envelopes that fail whole (424) sent again after Retry-After,
never creating a meeting twice; a refused create reported in its own place.

https://learn.microsoft.com/graph/json-batching
https://learn.microsoft.com/graph/throttling#throttling-and-batching
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncd.domain import ErrorCode, SyncdError
from syncd.graph.batch import NewEvent
from syncd.metrics import definitions as m
from syncd.sandbox import RunningSandbox, SandboxTenantSpec, start_sandbox
from syncd.sandbox.faults import BatchFailure, ForcedFailure
from syncd.sandbox.microsoft.directory import DirectoryUser

from .conftest import RecordingSleep
from .test_against_sandbox import make_client, payload


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    specs = [SandboxTenantSpec("Contoso", "contoso.example", users=12, seed=42)]
    with start_sandbox(state_dir=tmp_path_factory.mktemp("creates"), tenants=specs) as running:
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


def creates(people: list[DirectoryUser], count: int, tag: str) -> list[NewEvent]:
    start = datetime(2030, 6, 3, 9, tzinfo=UTC)
    return [
        NewEvent(
            people[n % 4].email,
            payload(
                people[4 + n % 3].email,
                f"contoso:salesforce:{tag}{n}",
                start=start + timedelta(hours=n),
            ),
            f"sf-{tag}{n}",
        )
        for n in range(count)
    ]


def made(sandbox: RunningSandbox, new: list[NewEvent]) -> list[int]:
    """How many live events carry each create's transactionId."""
    counts = []
    for create in new:
        owner = sandbox.directory.find_by_email(create.mailbox)
        assert owner is not None
        found = sandbox.calendars.events(
            owner.id,
            lambda e, t=create.payload["transactionId"]: e.transaction_id == t and e.is_organizer,
        )
        counts.append(len(found))
    return counts


def test_twenty_creates_are_one_envelope(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    client = make_client(sandbox, sleep)
    new = creates(people, 20, "a")

    answers = client.create_events(new)

    assert all(isinstance(a, dict) and a["id"] for a in answers)
    assert made(sandbox, new) == [1] * 20
    assert sandbox.counters.per_route["POST /$batch"] == 1
    assert sandbox.counters.batch_inner_requests == 20
    assert client.counter.snapshot()["http_round_trips"] == 1


def test_an_envelope_and_its_answer_are_decoded_once_with_the_metrics_counted(
    sandbox: RunningSandbox,
    sleep: RecordingSleep,
    people: list[DirectoryUser],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Counting JSON decodes needs a spy on the decoder: no sandbox can show CPU spent.
    # Only this thread's (the client's) count: the in-process sandbox decodes requests too.
    decoded: list[str] = []
    original = json.JSONDecoder.decode
    client_thread = threading.current_thread()

    def spy(self: json.JSONDecoder, text: str, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is client_thread:
            decoded.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(json.JSONDecoder, "decode", spy)
    counted = m.GRAPH_REQUESTS.labels("POST", "/users/{user}/events", "201")
    before = counted._value.get()
    client = make_client(sandbox, sleep)

    answers = client.create_events(creates(people, 20, "d"))

    assert all(isinstance(a, dict) and a["id"] for a in answers)
    # The metrics hook still counts each inner create with its own status...
    assert counted._value.get() - before == 20
    # ...from the envelope the client built and the answer the client reads: the 20
    # events are neither decoded back from the request nor decoded twice.
    assert sum('"requests"' in text for text in decoded) == 0
    assert sum('"responses"' in text for text in decoded) == 1


def test_an_inner_429_is_sent_again_after_its_retry_after(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    client = make_client(sandbox, sleep)
    new = creates(people, 8, "b")
    sandbox.faults.fail_next(ForcedFailure(429, mailbox=people[1].email, retry_after=3))

    answers = client.create_events(new)

    assert all(isinstance(a, dict) for a in answers)
    assert made(sandbox, new) == [1] * 8
    assert sleep.waits == [3.0]
    # The one refused went again in an envelope of its own.
    assert sandbox.counters.per_route["POST /$batch"] == 2
    assert sandbox.counters.batch_inner_requests == 9
    assert sandbox.counters.per_status[429] == 1


@pytest.mark.parametrize("run_requests", [True, False])
def test_an_envelope_failing_whole_makes_each_meeting_once(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser], run_requests: bool
) -> None:
    # 424 with the inner answers in it (the creates were carried out), or without
    # (none was): either way each meeting exists once at the end.
    client = make_client(sandbox, sleep)
    new = creates(people, 6, f"c{run_requests}")
    sandbox.faults.fail_next_batch(BatchFailure(424, run_requests=run_requests))

    answers = client.create_events(new)

    assert all(isinstance(a, dict) for a in answers)
    assert made(sandbox, new) == [1] * 6
    assert sandbox.counters.per_status[424] >= 1
    assert sandbox.counters.per_route["POST /$batch"] == (1 if run_requests else 2)


def test_a_refused_create_stays_in_its_place(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    client = make_client(sandbox, sleep)
    unlicensed = next(u for u in sandbox.tenant().users if not u.has_mailbox)
    new = creates(people, 3, "d")
    new[1] = NewEvent(unlicensed.email, new[1].payload, new[1].correlation_id)

    answers = client.create_events(new)

    assert isinstance(answers[0], dict) and isinstance(answers[2], dict)
    assert isinstance(answers[1], SyncdError)
    assert answers[1].code == ErrorCode.MAILBOX_NOT_FOUND
    assert unlicensed.email in answers[1].message
    assert made(sandbox, [new[0], new[2]]) == [1, 1]


def test_a_throttling_that_outlasts_the_budget_is_reported_per_create(
    sandbox: RunningSandbox, sleep: RecordingSleep, people: list[DirectoryUser]
) -> None:
    client = make_client(sandbox, sleep, max_retries=1)
    new = creates(people, 4, "e")
    sandbox.faults.fail_next(*[ForcedFailure(429, mailbox=people[2].email, retry_after=1)] * 2)

    answers = client.create_events(new)

    refused = [a for a in answers if isinstance(a, SyncdError)]
    assert [a.code for a in refused] == [ErrorCode.THROTTLED]
    assert refused[0].retryable
    assert made(sandbox, new).count(1) == 3
