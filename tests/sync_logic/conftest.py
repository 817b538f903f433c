"""The sync and series decisions on the fakes: each test builds its own world in milliseconds."""

from __future__ import annotations

import pytest

from tests.fakes import FakeWorld, build_world


@pytest.fixture
def world() -> FakeWorld:
    return build_world()
