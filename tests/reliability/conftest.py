"""Fixtures of the reliability tests (issue #4): no duplicate meeting, no lost change,
no silent failure, proven against both sandboxes.

Each test gets a sandbox of its own (Microsoft 365 plus a Salesforce org), started in
this process so it outlives every `syncd` process a test starts and kills, and a
config directory whose tenant reaches it through `[sandbox] connection_file`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from syncd.ledger.db import upgrade
from tests.reliability.world import World, open_world


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """`make_world(events=N, seed=S)`: a fresh sandbox with N generated Events, a config
    pointing at it and a migrated ledger. Several may be made; all stop at the end."""
    stack = ExitStack()
    made = 0

    def make(events: int, *, seed: int = 7, **config: object) -> World:
        nonlocal made
        made += 1
        world = stack.enter_context(
            open_world(tmp_path / f"world{made}", events=events, seed=seed, **config)
        )
        upgrade(world.config().database_url)
        return world

    with stack:
        yield make
