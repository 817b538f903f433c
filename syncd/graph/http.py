"""The session Graph and identity calls go through: syncd.http's (shared with Salesforce)."""

from __future__ import annotations

from syncd.http import POOL_MAXSIZE, build_session

__all__ = ["POOL_MAXSIZE", "build_session"]
