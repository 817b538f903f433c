"""Errors of the ledger layer (the state store, its leases and meeting locks)."""

from __future__ import annotations

from syncd.domain import SyncdError


class LedgerError(SyncdError):
    """An error of the state store: missing schema, a meeting or tenant held elsewhere."""
