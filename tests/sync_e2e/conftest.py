"""End-to-end sync fixtures: both sandboxes over HTTPS on 127.0.0.1, a fresh ledger each test.

Every test gets its own sandbox (Microsoft 365 + the tenant's Salesforce org, about
0.1 s to start) and its own SQLite ledger copied from one migrated template, and
drives the real sync: simple-salesforce through `syncd.salesforce.SalesforceClient`,
msal + requests through `syncd.graph.GraphClient`. The runtime's clock is the
sandbox clock, so advancing it moves back-off, getDeleted windows and tokens alike.
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
#: Generated people of seed 5 / northwind.example (the same in both sandboxes).
ORGANIZER = f"christie.cline@{DOMAIN}"
COLLEAGUE = f"pradeep.gupta@{DOMAIN}"
OTHER_COLLEAGUE = f"lee.gu@{DOMAIN}"
#: The tenth generated user has no Exchange mailbox (directory.NO_MAILBOX_EVERY).
NO_MAILBOX = f"alex.wilber@{DOMAIN}"

EVENT_ROUTE = "/users/{user}/events/{event}"

#: The tenant every test here syncs: an empty org (each Event is one a test made).
CRM = SandboxTenant(TENANT, DOMAIN, seed=SEED, users=USERS, salesforce_events=0)


@pytest.fixture(scope="session")
def migrated_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ledger migrated to head; each test starts from a copy of it."""
    return session_template(tmp_path_factory, CRM)


@pytest.fixture
def world(tmp_path: Path, migrated_ledger: Path) -> Iterator[World]:
    with in_process_world(tmp_path, CRM, migrated_ledger, organizer=ORGANIZER) as built:
        yield built
