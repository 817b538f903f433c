"""The grouping of requests into $batch waves (syncd.graph.batch_plan): 20 requests a
batch at most, and no mailbox over its share of concurrent requests in any wave."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.graph.batch_plan import plan_batches, plan_waves


def per_mailbox(mailboxes: list[str], positions: list[int]) -> Counter[str]:
    return Counter(mailboxes[p].casefold() for p in positions)


def test_a_page_of_distinct_mailboxes_fills_batches_of_twenty() -> None:
    mailboxes = [f"user{n}@contoso.example" for n in range(200)]
    waves = plan_waves(mailboxes, per_mailbox=3)
    assert len(waves) == 1
    assert [len(batch) for batch in waves[0]] == [20] * 10


def test_one_busy_mailbox_takes_a_wave_per_share() -> None:
    # 10 creates of one organizer, 3 at a time: 4 waves (3, 3, 3, 1), each its own batch.
    waves = plan_waves(["a@contoso.example"] * 10, per_mailbox=3)
    assert [[len(batch) for batch in wave] for wave in waves] == [[3], [3], [3], [1]]
    assert [p for wave in waves for batch in wave for p in batch] == list(range(10))


def test_mailboxes_are_compared_without_case() -> None:
    mailboxes = ["Megan@Contoso.example", "megan@contoso.example"] * 3
    waves = plan_waves(mailboxes, per_mailbox=4)
    assert [sum(len(b) for b in wave) for wave in waves] == [4, 2]


def test_a_mailbox_takes_turns_with_the_others_inside_a_wave() -> None:
    # Two mailboxes with 4 requests each, share 4, batches of 4: each batch holds both.
    mailboxes = ["a@x.example"] * 4 + ["b@x.example"] * 4
    [wave] = plan_waves(mailboxes, per_mailbox=4, per_request=4)
    assert [per_mailbox(mailboxes, batch) for batch in wave] == [
        Counter({"a@x.example": 2, "b@x.example": 2})
    ] * 2


def test_nothing_to_send_is_no_wave() -> None:
    assert plan_waves([], per_mailbox=4) == []
    assert plan_batches([], per_mailbox=4) == []


def test_a_share_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan_waves(["a@x.example"], per_mailbox=0)


@given(
    st.lists(st.sampled_from([f"u{n}@contoso.example" for n in range(30)]), max_size=400),
    st.integers(min_value=1, max_value=4),
)
def test_every_request_once_twenty_a_batch_and_no_mailbox_over_its_share(
    mailboxes: list[str], share: int
) -> None:
    waves = plan_waves(mailboxes, per_mailbox=share)
    flat = [p for wave in waves for batch in wave for p in batch]
    assert sorted(flat) == list(range(len(mailboxes)))
    for wave in waves:
        assert all(1 <= len(batch) <= 20 for batch in wave)
        counts = per_mailbox(mailboxes, [p for batch in wave for p in batch])
        assert max(counts.values()) <= share
    # As few waves as the busiest mailbox needs, and a mailbox's requests keep their order.
    busiest = max(Counter(mailboxes).values(), default=0)
    assert len(waves) == -(-busiest // share)
    for mailbox in set(mailboxes):
        mine = [p for p in flat if mailboxes[p] == mailbox]
        assert mine == sorted(mine)
    assert plan_batches(mailboxes, per_mailbox=share) == [b for wave in waves for b in wave]
