"""Fault injection for the Salesforce side: latency, forced errors, failing records.

Like the shared `syncd.sandbox.faults.Faults`, everything is seeded and settable from
Python and the admin API. Forced errors carry Salesforce error codes; record
failures make chosen ids fail inside writes (e.g. UNABLE_TO_LOCK_ROW in an sObject
Collections request) so partial failures can be tested.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from syncd.sandbox.salesforce.errors import SalesforceError
from syncd.sandbox.salesforce.ids import normalize_id

RESOURCES = (
    "query",
    "queryAll",
    "query_more",
    "sobject",
    "composite",
    "updated",
    "deleted",
    "limits",
    "describe",
    "versions",
    "oauth",
)


@dataclass(frozen=True)
class ForcedError:
    """One error the sandbox answers instead of doing the work (optionally for one resource)."""

    status: int
    error_code: str | None = None
    message: str | None = None
    resource: str | None = None

    def error(self) -> SalesforceError:
        return SalesforceError.for_status(self.status, self.error_code, self.message)


@dataclass
class RecordFailure:
    status_code: str
    message: str
    remaining: int | None  # None: fails every time


class SalesforceFaults:
    """Mutable fault settings shared by the HTTP layer and the write handlers."""

    def __init__(self, seed: int = 42) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(f"salesforce-faults|{seed}")
        self._queue: deque[ForcedError] = deque()
        self._records: dict[str, RecordFailure] = {}
        self.latency_seconds = 0.0
        self.error_rate = 0.0
        self.error_statuses: tuple[int, ...] = (500, 503)
        #: seconds added to the Date header of every answer: a server whose clock is off
        self.date_skew_seconds = 0.0

    def fail_next(self, *failures: int | ForcedError, resource: str | None = None) -> None:
        """Queue errors for the next API calls: fail_next(503), fail_next(ForcedError(...))."""
        if resource is not None and resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}; use one of {', '.join(RESOURCES)}")
        items = [
            f if isinstance(f, ForcedError) else ForcedError(int(f), resource=resource)
            for f in failures
        ]
        with self._lock:
            self._queue.extend(items)

    def fail_records(
        self,
        record_ids: str | list[str],
        status_code: str = "UNABLE_TO_LOCK_ROW",
        message: str | None = None,
        *,
        times: int | None = 1,
    ) -> None:
        """Make writes to these records fail `times` times (None: until cleared)."""
        ids = [record_ids] if isinstance(record_ids, str) else list(record_ids)
        with self._lock:
            for record_id in ids:
                key = normalize_id(record_id) or record_id
                text = (
                    message
                    or f"unable to obtain exclusive access to this record or 1 records: {key}"
                )
                self._records[key] = RecordFailure(status_code, text, times)

    def pick(self, resource: str) -> ForcedError | None:
        """The error this call should get, consuming the queue or the seeded dice."""
        with self._lock:
            for index, failure in enumerate(self._queue):
                if failure.resource in (None, resource):
                    del self._queue[index]
                    return failure
            if self.error_rate > 0 and self._rng.random() < self.error_rate:
                return ForcedError(self._rng.choice(self.error_statuses))
        return None

    def record_failure(self, record_id: str) -> RecordFailure | None:
        """Consume one planned failure of a write to `record_id`, if any."""
        with self._lock:
            failure = self._records.get(record_id)
            if failure is None:
                return None
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._records[record_id]
            return failure

    def configure(self, **settings: Any) -> None:
        """Set knobs by name (admin API): latency_seconds, error_rate, error_statuses, seed,
        fail_next [{status, error_code, message, resource}], fail_records [{id, status_code,
        message, times}]."""
        with self._lock:
            for name, value in settings.items():
                if name == "latency_seconds":
                    self.latency_seconds = float(value)
                elif name == "error_rate":
                    rate = float(value)
                    if not 0.0 <= rate <= 1.0:
                        raise ValueError(f"error_rate must be within 0..1, got {rate}")
                    self.error_rate = rate
                elif name == "error_statuses":
                    self.error_statuses = tuple(int(s) for s in value)
                elif name == "date_skew_seconds":
                    self.date_skew_seconds = float(value)
                elif name == "seed":
                    self._seed = int(value)
                    self._rng = random.Random(f"salesforce-faults|{self._seed}")
                elif name not in ("fail_next", "fail_records"):
                    raise ValueError(f"unknown fault setting {name!r}")
        for item in settings.get("fail_next", []):
            forced = ForcedError(**item) if isinstance(item, dict) else ForcedError(int(item))
            self.fail_next(forced)
        for item in settings.get("fail_records", []):
            self.fail_records(
                str(item["id"]),
                item.get("status_code", "UNABLE_TO_LOCK_ROW"),
                item.get("message"),
                times=item.get("times", 1),
            )

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._records.clear()
            self._rng = random.Random(f"salesforce-faults|{self._seed}")
            self.latency_seconds = 0.0
            self.error_rate = 0.0
            self.error_statuses = (500, 503)
            self.date_skew_seconds = 0.0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self._seed,
                "latency_seconds": self.latency_seconds,
                "error_rate": self.error_rate,
                "error_statuses": list(self.error_statuses),
                "date_skew_seconds": self.date_skew_seconds,
                "fail_next": [asdict(f) for f in self._queue],
                "fail_records": {k: asdict(v) for k, v in self._records.items()},
            }
