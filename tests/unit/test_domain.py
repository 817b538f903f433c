"""Pure helpers of the domain."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from syncd.domain import Slot, format_gmt, merge_slots, utc

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def test_format_gmt_converts_offsets_and_naive_times() -> None:
    assert format_gmt(datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-01-01T10:00:00Z"
    )
    assert format_gmt(datetime(2026, 1, 1, 12)) == "2026-01-01T12:00:00Z"
    assert utc(datetime(2026, 1, 1)).tzinfo == UTC


spans = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 60)).map(
        lambda p: Slot(BASE + timedelta(minutes=p[0]), BASE + timedelta(minutes=p[0] + p[1]))
    ),
    max_size=30,
)


@given(spans, st.integers(0, 100), st.integers(101, 300))
def test_merged_slots_are_sorted_disjoint_clipped_and_cover_the_same_minutes(
    slots: list[Slot], lo: int, hi: int
) -> None:
    start, end = BASE + timedelta(minutes=lo), BASE + timedelta(minutes=hi)
    merged = merge_slots(slots, start, end)
    for a, b in itertools.pairwise(merged):
        assert a.end < b.start
    for slot in merged:
        assert start <= slot.start < slot.end <= end

    def minutes(items: tuple[Slot, ...] | list[Slot]) -> set[int]:
        covered: set[int] = set()
        for s in items:
            first = max(s.start, start)
            last = min(s.end, end)
            covered |= {
                int((first - BASE).total_seconds() // 60) + i
                for i in range(max(0, int((last - first).total_seconds() // 60)))
            }
        return covered

    assert minutes(merged) == minutes(slots)
