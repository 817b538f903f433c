"""Fixtures of the doctor tests: a sandbox (Microsoft 365 + a Salesforce org) whose
clock starts at the suite's instant, and a config whose demo tenant reaches it
through `[sandbox] connection_file`; plus the daemon tests' wall-clock `world` for
the tests that run `syncd` as a process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from syncd.config import LoadedConfig, load_config
from syncd.ledger.db import upgrade
from syncd.sandbox.server import (
    RunningSandbox,
    SandboxTenantSpec,
    start_sandbox,
    write_connection_file,
)
from tests.daemon.conftest import world  # noqa: F401  (the wall-clock world)
from tests.daemon.helpers import DOMAIN, EVENTS, TENANT, write_demo_config
from tests.support import suite_clock


@dataclass
class Clinic:
    """A sandbox, its connection file and a config for its demo tenant."""

    sandbox: RunningSandbox
    config_path: Path
    connection_file: Path

    def config(self) -> LoadedConfig:
        return load_config(self.config_path)

    def graph_admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the Microsoft side's admin API (/_sandbox/...) over HTTPS."""
        return self._call(method, f"{self.sandbox.base_url}/_sandbox{path}", body)

    def salesforce_admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the org's admin API (/_sandbox/salesforce/...) over HTTPS."""
        base = self.sandbox.org(TENANT).base_url
        return self._call(method, f"{base}/_sandbox/salesforce{path}", body)

    def _call(self, method: str, url: str, body: Any) -> Any:
        answer = requests.request(
            method, url, json=body, verify=str(self.sandbox.ca_file), timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    spec = SandboxTenantSpec(TENANT, DOMAIN, users=25, seed=42, salesforce_events=EVENTS)
    with start_sandbox(
        state_dir=tmp_path / "sandbox", tenants=[spec], clock=suite_clock()
    ) as sandbox:
        connection = write_connection_file(sandbox)
        config_path = write_demo_config(tmp_path / "config", connection)
        upgrade(load_config(config_path).database_url)
        yield Clinic(sandbox, config_path, connection)
