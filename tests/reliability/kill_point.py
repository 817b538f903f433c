"""Run `syncd` and SIGKILL it at a named point of the batched creates (test-only).

    python -m tests.reliability.kill_point POINT N syncd-arguments...

POINT is `after-claim` (the group's intents are committed, nothing sent yet) or
`before-complete` (Graph answered the group's $batch, its completion is not yet
committed); the process kills itself there in the N-th group (1-based), so earlier
groups completed and groups running beside it are cut off wherever they are. A kill
in the middle of a $batch needs no hook: the test kills the process from outside
while Graph is carrying the envelope out.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from syncd import cli
from syncd.core.batch_creates import BatchCreates

POINTS = {"after-claim": "_claim", "before-complete": "_complete"}


def arm(point: str, nth: int) -> None:
    """Patch the step of BatchCreates that POINT names to kill the process."""
    name = POINTS[point]
    original: Callable[..., Any] = getattr(BatchCreates, name)
    calls = [0]
    lock = threading.Lock()

    def die() -> None:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def patched(self: BatchCreates, *args: Any, **kwargs: Any) -> Any:
        with lock:
            calls[0] += 1
            reached = calls[0] == nth
        if reached and point == "before-complete":
            die()
        result = original(self, *args, **kwargs)
        if reached and point == "after-claim":
            die()
        return result

    setattr(BatchCreates, name, patched)


if __name__ == "__main__":
    arm(sys.argv[1], int(sys.argv[2]))
    sys.exit(cli.main(sys.argv[3:]))
