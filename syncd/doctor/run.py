"""`run_doctor`: every check for every (or the named) tenant, into one DoctorReport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from syncd.config import ConfigError, LoadedConfig
from syncd.doctor.config_checks import secret_checks
from syncd.doctor.microsoft_checks import check_graph
from syncd.doctor.report import CONFIGURATION, DoctorReport, TenantReport, failed, passed
from syncd.doctor.salesforce_checks import check_salesforce
from syncd.doctor.store_checks import lease_check, migration_check, skew_check
from syncd.domain import MeetingStatus, SyncdError
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.ledger.tenant_state import record_doctor
from syncd.runtime import Runtime, build_runtime, salesforce_access
from syncd.sync.service import FEED_DELETED


def _now() -> datetime:
    return datetime.now(UTC)


def run_doctor(
    config: LoadedConfig,
    tenant_names: list[str] | None = None,
    clock: Callable[[], datetime] = _now,
) -> DoctorReport:
    """Check the named tenants (default: all). Nothing is changed in Salesforce or Outlook;
    each tenant's result is kept in the operator state (a migrated store only), where the
    status page shows it."""
    names = [config.tenant(n).name for n in tenant_names] if tenant_names else list(config.tenants)
    runtime = build_runtime(config, clock=clock, require_migrated=False)
    try:
        migrated = migration_check(runtime.engine)
        report = DoctorReport(
            [_tenant(runtime, name, migrated_ok=migrated.ok, clock=clock) for name in names]
        )
        if migrated.ok:
            for tenant in report.tenants:
                record_doctor(
                    runtime.engine,
                    tenant.tenant,
                    now=clock(),
                    ok=tenant.ok,
                    report=tenant.to_json(),
                )
        return report
    finally:
        runtime.close()


def _tenant(
    runtime: Runtime, name: str, *, migrated_ok: bool, clock: Callable[[], datetime]
) -> TenantReport:
    config = runtime.config
    tenant = config.tenant(name)
    report = TenantReport(name)
    report.checks.append(passed(CONFIGURATION, "parses", f"{config.path} and the tenant file"))
    report.checks.extend(secret_checks(config, tenant))
    if name in runtime.broken:
        report.checks.append(
            failed(
                CONFIGURATION,
                "tenant can run",
                runtime.broken[name],
                "fix the setting named above; the daemon and the API skip this tenant until then",
            )
        )
        return report
    migrated = migration_check(runtime.engine)
    report.checks.append(migrated)
    report.checks.append(lease_check(runtime.engine, name))
    watermark = lq.get_watermark(runtime.engine, name, FEED_DELETED) if migrated_ok else None
    sf_date: str | None = None
    owners: list[str] = []
    try:
        access = salesforce_access(tenant, runtime.connections.get(name), runtime.clock)
        found = check_salesforce(
            tenant, access, runtime.salesforce(name), deleted_watermark=watermark, clock=clock
        )
        report.checks.extend(found.checks)
        sf_date, owners = found.date_header, found.owners
    except (ConfigError, SyncdError) as exc:
        message = exc.message if isinstance(exc, SyncdError) else str(exc)
        report.checks.append(
            failed("Salesforce", "login", message, "check [salesforce.login] and its secret")
        )
    mailboxes = (_ledger_organizers(runtime, name) if migrated_ok else []) + owners
    graph = check_graph(runtime.graph_access[name], mailboxes, sandbox=tenant.provider == "sandbox")
    report.checks.extend(graph.checks)
    report.checks.append(skew_check("Microsoft Graph", graph.date_header, clock))
    report.checks.append(skew_check("Salesforce", sf_date, clock))
    return report


def _ledger_organizers(runtime: Runtime, tenant: str) -> list[str]:
    """Organizers of meetings syncd already wrote (their mailboxes answered before)."""
    with Session(runtime.engine) as session:
        rows = session.exec(
            select(MeetingRecord.organizer_email)
            .where(
                MeetingRecord.tenant == tenant, MeetingRecord.status == MeetingStatus.SYNCED.value
            )
            .order_by(col(MeetingRecord.updated_at).desc())
            .limit(5)
        )
        return [str(row) for row in rows]
