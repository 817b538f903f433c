"""Recurrence end-to-end fixtures: both sandboxes over HTTPS, a fresh ledger per test.

Same shape as the sync end-to-end suite (real simple-salesforce, msal and requests
against the sandboxes on 127.0.0.1), kept separate so the series tests own their setup.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import SandboxTenant, World, in_process_world, session_template

__all__ = ["World"]

TENANT = "crm"
DOMAIN = "northwind.example"
USERS = 12
SEED = 5
ORGANIZER = f"christie.cline@{DOMAIN}"
COLLEAGUE = f"pradeep.gupta@{DOMAIN}"
EVENTS_ROUTE = "/users/{user}/events"
EVENT_ROUTE = "/users/{user}/events/{event}"

CRM = SandboxTenant(TENANT, DOMAIN, seed=SEED, users=USERS, salesforce_events=0)


@pytest.fixture(scope="session")
def migrated_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_template(tmp_path_factory, CRM)


@pytest.fixture
def world(tmp_path: Path, migrated_ledger: Path) -> Iterator[World]:
    with in_process_world(tmp_path, CRM, migrated_ledger, organizer=ORGANIZER) as built:
        yield built
