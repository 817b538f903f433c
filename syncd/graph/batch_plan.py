"""Which requests share a $batch, and in which order the batches go (pure, no I/O).

Two limits shape the grouping:

- a $batch carries at most 20 requests (https://learn.microsoft.com/graph/json-batching);
- Outlook allows 4 concurrent requests per app and mailbox
  (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits), and each
  request inside a batch counts on its own
  (https://learn.microsoft.com/graph/throttling#throttling-and-batching). Graph hands up
  to four requests of a batch to Outlook at once, whatever their mailboxes, so five
  requests for one mailbox in one batch can already be throttled.

So requests go out in *waves*: a wave holds at most `per_mailbox` requests of any one
mailbox (this process's share of the 4), spread over as few batches of 20 as it takes.
All batches of a wave can be in flight together without any mailbox going over its
share; the next wave takes each mailbox's next requests.
"""

from __future__ import annotations

from collections.abc import Sequence

from syncd.graph.batch import MAX_REQUESTS_PER_BATCH

#: A wave: its batches, each a list of positions in the caller's sequence of requests.
Wave = list[list[int]]


def plan_waves(
    mailboxes: Sequence[str],
    *,
    per_mailbox: int,
    per_request: int = MAX_REQUESTS_PER_BATCH,
) -> list[Wave]:
    """Group requests, given by the mailbox each addresses, into waves of batches.

    Each position appears exactly once. Within a wave the mailboxes take turns, so one
    mailbox's requests are spread over the wave's batches, not piled into one. A
    mailbox is compared without case, as Exchange compares addresses.
    """
    if per_mailbox < 1 or per_request < 1:
        raise ValueError("per_mailbox and per_request must be at least 1")
    queues: dict[str, list[int]] = {}
    for position, mailbox in enumerate(mailboxes):
        queues.setdefault(mailbox.casefold(), []).append(position)
    waves: list[Wave] = []
    taken = 0
    while any(len(queue) > taken for queue in queues.values()):
        turns = [queue[taken : taken + per_mailbox] for queue in queues.values()]
        ordered = [
            turn[round_] for round_ in range(per_mailbox) for turn in turns if round_ < len(turn)
        ]
        waves.append([ordered[i : i + per_request] for i in range(0, len(ordered), per_request)])
        taken += per_mailbox
    return waves


def plan_batches(
    mailboxes: Sequence[str],
    *,
    per_mailbox: int,
    per_request: int = MAX_REQUESTS_PER_BATCH,
) -> list[list[int]]:
    """The batches of `plan_waves`, wave after wave."""
    return [
        batch
        for wave in plan_waves(mailboxes, per_mailbox=per_mailbox, per_request=per_request)
        for batch in wave
    ]
