"""The doctor's report as text: one line per check, ✓ or ✗, and on ✗ what to do."""

from __future__ import annotations

from syncd.doctor.report import DoctorReport

CHECK_MARK = "\u2713"
CROSS_MARK = "\u2717"


def render(report: DoctorReport) -> str:
    lines: list[str] = []
    for tenant in report.tenants:
        lines.append(f"tenant {tenant.tenant}:")
        for check in tenant.checks:
            mark = CHECK_MARK if check.ok else CROSS_MARK
            lines.append(f"  {mark} {check.group}: {check.name}: {check.detail}")
            if not check.ok and check.advice:
                lines.append(f"      fix: {check.advice}")
    failures = sum(len(t.failures()) for t in report.tenants)
    if failures:
        lines.append(f"{failures} check(s) failed")
    else:
        lines.append("all checks passed")
    return "\n".join(lines)
