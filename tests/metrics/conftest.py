"""A sandbox of the metrics tests' own (Microsoft 365 and a demo Salesforce org) on
the suite's clock, a config that reaches it, and a runtime built from that config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.ledger.db import upgrade
from syncd.runtime import Runtime, build_runtime
from syncd.sandbox.server import SandboxTenantSpec, start_sandbox, write_connection_file
from tests.daemon.helpers import DOMAIN, EVENTS, TENANT, World, write_config
from tests.support import suite_clock


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    spec = SandboxTenantSpec(TENANT, DOMAIN, users=25, seed=42, salesforce_events=EVENTS)
    with start_sandbox(
        state_dir=tmp_path / "sandbox", tenants=[spec], clock=suite_clock()
    ) as sandbox:
        config_path = write_config(tmp_path / "config", write_connection_file(sandbox))
        upgrade(load_config(config_path).database_url)
        yield World(sandbox, config_path, tmp_path)


@pytest.fixture
def runtime(world: World) -> Iterator[Runtime]:
    """The runtime on the sandbox's clock: a lag is measured on the clock that
    stamped the Events."""
    built = build_runtime(world.config(), clock=world.sandbox.clock.now)
    yield built
    built.close()
