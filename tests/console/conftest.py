"""Fixtures of the status page and operator tests: the end-to-end sync world (both
sandboxes over HTTPS, a fresh ledger each test) of tests/sync_e2e."""

from __future__ import annotations

from tests.sync_e2e.conftest import migrated_ledger, world  # noqa: F401  (fixtures)
