"""The doctor's findings: checks grouped per tenant, with a stable JSON shape.

JSON: {"ok": bool, "tenants": [{"tenant", "ok", "checks": [{"group", "name", "ok",
"detail", "advice"}]}]}; other parts (a status page) store and show it as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONFIGURATION = "Configuration"
MICROSOFT = "Microsoft"
SALESFORCE = "Salesforce"
STATE_STORE = "State store"


@dataclass(frozen=True)
class Check:
    """One verdict: `advice` says what to do when it failed (empty when it passed)."""

    group: str
    name: str
    ok: bool
    detail: str
    advice: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "ok": self.ok,
            "detail": self.detail,
            "advice": self.advice,
        }


def passed(group: str, name: str, detail: str) -> Check:
    return Check(group, name, True, detail)


def failed(group: str, name: str, detail: str, advice: str) -> Check:
    return Check(group, name, False, detail, advice)


@dataclass
class TenantReport:
    tenant: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "ok": self.ok,
            "checks": [check.to_json() for check in self.checks],
        }


@dataclass
class DoctorReport:
    tenants: list[TenantReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(tenant.ok for tenant in self.tenants)

    def tenant(self, name: str) -> TenantReport:
        return next(t for t in self.tenants if t.tenant == name)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "tenants": [tenant.to_json() for tenant in self.tenants]}
