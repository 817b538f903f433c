"""The seam shared by the fakes: a log of the calls made, and faults raised on purpose.

A fault stands in for what no service can be made to show on demand at an exact
point: the process dying before a write, or the answer of a write that was carried
out being lost on the way back (raise after the call).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One port call: the method name, the mailbox (Graph) or sObject / SOQL it named, and
    for writes what was sent (the POST or PATCH body, the cancel comment)."""

    method: str
    target: str
    sent: Any = None


@dataclass
class _Planned:
    error: BaseException
    when: str  # "before" | "after"
    times: int


@dataclass
class Faults:
    """Records calls and raises planned errors before or after a named method runs."""

    calls: list[Call] = field(default_factory=list)
    _planned: dict[str, list[_Planned]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_before(self, method: str, error: BaseException, *, times: int = 1) -> None:
        """The next `times` calls of `method` raise `error` without doing anything."""
        self._plan(method, _Planned(error, "before", times))

    def fail_after(self, method: str, error: BaseException, *, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out, then raise `error`."""
        self._plan(method, _Planned(error, "after", times))

    def of(self, *methods: str) -> list[Call]:
        """The calls of these methods, in order."""
        with self._lock:
            return [c for c in self.calls if c.method in methods]

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()

    def count(self, *methods: str) -> int:
        """How many calls of these methods were made (all calls when none is named)."""
        with self._lock:
            return sum(1 for c in self.calls if not methods or c.method in methods)

    def run(self, method: str, target: str, body: Callable[[], T], *, sent: Any = None) -> T:
        """Record the call, then run `body` between the planned faults."""
        with self._lock:
            self.calls.append(Call(method, target, snapshot(sent)))
        self._raise(method, "before")
        result = body()
        self._raise(method, "after")
        return result

    def _plan(self, method: str, planned: _Planned) -> None:
        with self._lock:
            self._planned.setdefault(method, []).append(planned)

    def _raise(self, method: str, when: str) -> None:
        with self._lock:
            queue = self._planned.get(method, [])
            found = next((p for p in queue if p.when == when), None)
            if found is None:
                return
            found.times -= 1
            if found.times <= 0:
                queue.remove(found)
        raise found.error


def snapshot(value: Any) -> Any:
    """A deep copy through JSON types only: what a caller gets can never alias the store."""
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [snapshot(v) for v in value]
    return value
