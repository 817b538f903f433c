"""Fault injection: latency, random server errors, forced statuses, dropped connections,
$batch envelopes that fail whole.

Everything is seeded so a run with the same seed and the same request order
sees the same faults. Settable from Python and through the admin API.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_ERROR_STATUSES = (503, 504)


@dataclass(frozen=True)
class ForcedFailure:
    """One status the sandbox answers instead of doing the work.

    `mailbox` limits it to requests addressed to that mailbox (e-mail or user
    id, case-insensitive); without it the next Graph request of any kind takes
    it, a `$batch` envelope included.
    """

    status: int
    mailbox: str | None = None
    retry_after: int | None = None

    def matches(self, mailbox_keys: tuple[str, ...]) -> bool:
        return self.mailbox is None or self.mailbox.lower() in mailbox_keys


@dataclass(frozen=True)
class BatchFailure:
    """One `$batch` envelope that fails as a whole.

    "Requests in a batch are evaluated individually against throttling limits and if any
    request exceeds the limits, it fails with a status of 429 ... The batch itself fails
    with a status code of 424 (Failed Dependency)"
    (https://learn.microsoft.com/en-us/graph/throttling#throttling-and-batching).
    `run_requests`: the inner requests are carried out and their answers come in the
    failed envelope (as that page describes); without it nothing is done and the
    envelope carries only an error.
    """

    status: int = 424
    run_requests: bool = True


class Faults:
    """Mutable fault settings shared by the HTTP layer and the Graph pipeline."""

    def __init__(self, seed: int = 42) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._queue: deque[ForcedFailure] = deque()
        self._batch_queue: deque[BatchFailure] = deque()
        #: The envelope's status when a request inside it was throttled (429): 200 as
        #: json-batching describes, or 424 as throttling#throttling-and-batching does.
        self.throttled_batch_status = 200
        self.latency_seconds = 0.0
        self.error_rate = 0.0
        self.error_statuses: tuple[int, ...] = DEFAULT_ERROR_STATUSES
        self.retry_after_seconds = 1
        self.token_ttl_seconds: int | None = None
        self.reset_connection_rate = 0.0
        #: seconds added to the Date header of every answer: a server whose clock is off
        self.date_skew_seconds = 0.0

    def configure(self, **settings: Any) -> None:
        """Set any of the public knobs by name; unknown names raise ValueError."""
        allowed = {
            "latency_seconds": float,
            "error_rate": float,
            "retry_after_seconds": int,
            "reset_connection_rate": float,
            "throttled_batch_status": int,
            "date_skew_seconds": float,
        }
        with self._lock:
            for name, value in settings.items():
                if name == "token_ttl_seconds":
                    self.token_ttl_seconds = None if value is None else int(value)
                elif name == "error_statuses":
                    self.error_statuses = tuple(int(s) for s in value)
                elif name == "seed":
                    self._seed = int(value)
                    self._rng = random.Random(self._seed)
                elif name == "fail_next":
                    self._queue.extend(_as_failures(value))
                elif name == "fail_next_batch":
                    self._batch_queue.extend(_as_batch_failures(value))
                elif name in allowed:
                    setattr(self, name, allowed[name](value))
                else:
                    raise ValueError(f"unknown fault setting {name!r}")
            if not 0.0 <= self.error_rate <= 1.0:
                raise ValueError(f"error_rate must be within 0..1, got {self.error_rate}")
            if self.throttled_batch_status not in (200, 424):
                raise ValueError("throttled_batch_status must be 200 or 424")

    def fail_next(self, *failures: int | ForcedFailure, mailbox: str | None = None) -> None:
        """Queue statuses for the next Graph requests, e.g. fail_next(429, 503)."""
        items = [
            f if isinstance(f, ForcedFailure) else ForcedFailure(int(f), mailbox=mailbox)
            for f in failures
        ]
        with self._lock:
            self._queue.extend(items)

    def fail_next_batch(self, *failures: BatchFailure) -> None:
        """Make the next `$batch` envelopes fail whole, e.g. fail_next_batch(BatchFailure())."""
        with self._lock:
            self._batch_queue.extend(failures or (BatchFailure(),))

    def take_batch_failure(self) -> BatchFailure | None:
        """The whole-batch failure this envelope should get, if one is queued."""
        with self._lock:
            return self._batch_queue.popleft() if self._batch_queue else None

    def pick(self, mailbox_keys: Iterable[str] = ()) -> ForcedFailure | None:
        """The failure this request should get, consuming the queue or the seeded dice."""
        keys = tuple(k.lower() for k in mailbox_keys)
        with self._lock:
            for index, failure in enumerate(self._queue):
                if failure.matches(keys):
                    del self._queue[index]
                    return failure
            if self.error_rate > 0 and self._rng.random() < self.error_rate:
                status = self._rng.choice(self.error_statuses)
                # Graph sends Retry-After with 429 and 503, not with 504.
                retry = self.retry_after_seconds if status in (429, 503) else None
                return ForcedFailure(status, retry_after=retry)
        return None

    def should_reset_connection(self) -> bool:
        """Whether to drop this connection mid-response (seeded)."""
        with self._lock:
            rate = self.reset_connection_rate
            return rate > 0 and self._rng.random() < rate

    def pending(self) -> list[ForcedFailure]:
        with self._lock:
            return list(self._queue)

    def reset(self) -> None:
        """All knobs back to no faults; the dice restart from the seed."""
        with self._lock:
            self._queue.clear()
            self._batch_queue.clear()
            self.throttled_batch_status = 200
            self._rng = random.Random(self._seed)
            self.latency_seconds = 0.0
            self.error_rate = 0.0
            self.error_statuses = DEFAULT_ERROR_STATUSES
            self.retry_after_seconds = 1
            self.token_ttl_seconds = None
            self.reset_connection_rate = 0.0
            self.date_skew_seconds = 0.0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self._seed,
                "latency_seconds": self.latency_seconds,
                "error_rate": self.error_rate,
                "error_statuses": list(self.error_statuses),
                "retry_after_seconds": self.retry_after_seconds,
                "token_ttl_seconds": self.token_ttl_seconds,
                "reset_connection_rate": self.reset_connection_rate,
                "fail_next": [asdict(f) for f in self._queue],
                "fail_next_batch": [asdict(f) for f in self._batch_queue],
                "throttled_batch_status": self.throttled_batch_status,
                "date_skew_seconds": self.date_skew_seconds,
            }


def _as_failures(value: Any) -> list[ForcedFailure]:
    """Accept [429, 503] or [{"status": 429, "mailbox": "...", "retry_after": 2}]."""
    if not isinstance(value, list):
        raise ValueError("fail_next must be a list of statuses or {status, mailbox} objects")
    failures = []
    for item in value:
        if isinstance(item, ForcedFailure):
            failures.append(item)
        elif isinstance(item, int):
            failures.append(ForcedFailure(item))
        elif isinstance(item, dict) and "status" in item:
            retry = item.get("retry_after")
            failures.append(
                ForcedFailure(
                    int(item["status"]),
                    mailbox=item.get("mailbox"),
                    retry_after=None if retry is None else int(retry),
                )
            )
        else:
            raise ValueError(f"cannot read {item!r} as a forced failure")
    return failures


def _as_batch_failures(value: Any) -> list[BatchFailure]:
    """Accept [424] or [{"status": 424, "run_requests": false}]."""
    if not isinstance(value, list):
        raise ValueError("fail_next_batch must be a list of statuses or {status, run_requests}")
    failures = []
    for item in value:
        if isinstance(item, BatchFailure):
            failures.append(item)
        elif isinstance(item, int):
            failures.append(BatchFailure(item))
        elif isinstance(item, dict):
            failures.append(
                BatchFailure(int(item.get("status", 424)), bool(item.get("run_requests", True)))
            )
        else:
            raise ValueError(f"cannot read {item!r} as a batch failure")
    return failures
