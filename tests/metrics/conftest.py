"""Sandboxes of the metrics (and logs) tests' own: Microsoft 365 and a demo Salesforce
org, a config that reaches them, and a runtime built from that config.

`world` runs on the suite's clock, for runtimes in this process (given that clock);
`process_world` on the machine's, for `syncd` processes, which read the machine's
clock as a deployment does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.ledger.db import upgrade
from syncd.runtime import Runtime, build_runtime
from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.server import SandboxTenantSpec, start_sandbox, write_connection_file
from tests.daemon.helpers import DOMAIN, EVENTS, TENANT, World, write_demo_config
from tests.support import suite_clock


@contextmanager
def _world(root: Path, clock: SandboxClock) -> Iterator[World]:
    spec = SandboxTenantSpec(TENANT, DOMAIN, users=25, seed=42, salesforce_events=EVENTS)
    with start_sandbox(state_dir=root / "sandbox", tenants=[spec], clock=clock) as sandbox:
        config_path = write_demo_config(root / "config", write_connection_file(sandbox))
        upgrade(load_config(config_path).database_url)
        yield World(sandbox, config_path, root, TENANT)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with _world(tmp_path, suite_clock()) as built:
        yield built


@pytest.fixture
def process_world(tmp_path: Path) -> Iterator[World]:
    with _world(tmp_path, SandboxClock()) as built:
        yield built


@pytest.fixture
def runtime(world: World) -> Iterator[Runtime]:
    """The runtime on the sandbox's clock: a lag is measured on the clock that
    stamped the Events."""
    built = build_runtime(world.config(), clock=world.sandbox.clock.now)
    yield built
    built.close()
