"""Pages carried out beside the reading and planning of the next ones.

A page's Graph writes and its write-back wait on the network most of the time (a
$batch of 20 creates takes five of Graph's rounds, as Graph runs four of its requests
at a time); reading and planning the next page meanwhile keeps both the client and
the services busy. At most `depth` pages are in flight: the pass's memory still grows
with a page, not with the org.

What a page did is reported (`on_settled`) in the thread that submitted it, in page
order, when `settle` is called or room is needed for the next page; a page whose
carrying out raised raises there, after every other page in flight has ended (no
write is left running when the pass returns or fails).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class PagePipeline(Generic[T]):
    """Runs page jobs in the background, at most `depth` at a time."""

    def __init__(self, depth: int) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self._pool: ThreadPoolExecutor | None = None
        self._guard = threading.Lock()
        self._waiting: deque[tuple[Future[T], Callable[[T], None]]] = deque()

    def submit(self, job: Callable[[], T], on_settled: Callable[[T], None]) -> None:
        """Start `job`; `on_settled(its result)` runs at the next settle. Waits for the
        oldest page first when `depth` pages are in flight."""
        while len(self._waiting) >= self.depth:
            self._settle_oldest()
        self._waiting.append((self._threads().submit(job), on_settled))

    def settle(self) -> None:
        """Wait for every page in flight and report each, oldest first; the first error
        is raised once all have ended."""
        failure: BaseException | None = None
        while self._waiting:
            try:
                self._settle_oldest()
            except BaseException as error:  # re-raised below, once the rest have ended
                failure = failure or error
        if failure is not None:
            raise failure

    def _settle_oldest(self) -> None:
        future, on_settled = self._waiting.popleft()
        on_settled(future.result())

    def _threads(self) -> ThreadPoolExecutor:
        # Kept for the life of the sync: starting threads for every page cost more
        # than the page's own bookkeeping.
        with self._guard:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.depth, thread_name_prefix="syncd-page")
            return self._pool
