"""Checks every scheduled meeting passes before the ledger or Graph hears of it (pure)."""

from __future__ import annotations

from datetime import datetime

from syncd.config import TenantConfig
from syncd.domain import ErrorCode, SyncdError, utc


def check_times(start: datetime, end: datetime) -> None:
    """A meeting (or a window) must end after it starts."""
    if utc(end) <= utc(start):
        raise SyncdError(ErrorCode.INVALID_REQUEST, "endTime must be after startTime")


def check_organizer(tenant: TenantConfig, organizer: str) -> None:
    """Only the tenant's own users organize meetings."""
    if not tenant.is_in_org(organizer):
        raise SyncdError(
            ErrorCode.ORGANIZER_NOT_FOUND,
            f"organizer {organizer} is not in this tenant's mail domains "
            f"({', '.join(tenant.mail_domains)}); only in-org users can organize",
        )
