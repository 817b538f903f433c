"""The sync faces of the command line: `syncd run`, `syncd reconcile`, `syncd status`."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from syncd.config import ConfigError, LoadedConfig
from syncd.domain import ErrorCode, SyncdError
from syncd.ledger.db import ensure_migrated, make_engine
from syncd.ledger.lease import Leases, LocalLeases, holders, leases_for
from syncd.ledger.shards import shard_leases
from syncd.ledger.tenant_state import is_paused
from syncd.logs import log_context
from syncd.metrics.collectors import install_leases, install_ledger
from syncd.metrics.jobs import metered_jobs
from syncd.metrics.server import MetricsServer, serve_metrics
from syncd.metrics.sync_metrics import count_pass
from syncd.reconcile_leases import EXIT_BUSY, tenant_leases
from syncd.reports import (
    availability_line,
    pass_lines,
    responses_line,
    status_lines,
)
from syncd.runtime import Runtime, build_runtime
from syncd.sync.plan import Action
from syncd.sync.service import PassReport, SyncService
from syncd.tenant_status import tenant_status

log = logging.getLogger("syncd")

#: Exit status of a pass in which records failed (or that was interrupted).
EXIT_RECORDS_FAILED = 1
#: Exit status when the setup is wrong: configuration, store, credentials.
EXIT_SETUP = 2
#: A pass stopped by these is a setup problem (credentials, permissions, a
#: field or filter the org does not have): retrying alone will not fix it.
SETUP_ERRORS = frozenset(
    {
        ErrorCode.UNAUTHORIZED,
        ErrorCode.FORBIDDEN,
        ErrorCode.ACCESS_DENIED,
        ErrorCode.TENANT_NOT_FOUND,
        ErrorCode.INVALID_REQUEST,
    }
)


def synced_tenants(config: LoadedConfig, only: str | None) -> list[str]:
    """The tenants a command works on: one by name, or every configured one."""
    if only is not None:
        config.tenant(only)
        return [only]
    return list(config.tenants)


# ----------------------------------------------------------------------- run


def run_daemon(config: LoadedConfig, *, api: bool, host: str, port: int) -> int:
    """`syncd run`: every tenant's jobs until SIGTERM/SIGINT, optionally with the API."""
    from syncd.daemon import Daemon, JobSpec, shard_jobs, tenant_jobs

    # APScheduler logs every run of every job (the watchdog ping included) at
    # INFO; its warnings (a run skipped because the last one still runs, a
    # missed run) are what an operator needs.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    stop = threading.Event()
    runtime = build_runtime(config, role="daemon+api" if api else "daemon")
    server: _ApiServer | None = None
    metrics_server: MetricsServer | None = None
    try:
        # Replicas share the tenants through leases; a pass whose lease was lost
        # (the lease connection died) stops between pages like one at SIGTERM.
        scale = config.settings.scale
        count = scale.mailbox_shards
        leases = leases_for(
            runtime.engine,
            total=len(config.tenants),
            shards=len(config.tenants) * len(shard_leases("", count)),
        )
        services = runtime.sync_services(
            list(config.tenants),
            lambda name: _stop_check(stop, leases, name),
            lambda name: owns_mailbox(leases, name, count),
        )
        if not services:
            reasons = "; ".join(f"{k}: {v}" for k, v in runtime.broken_tenants().items())
            raise ConfigError(f"no tenant can run ({reasons}); `syncd doctor` says more")
        install_ledger(runtime.engine, list(config.tenants))
        install_leases(leases, list(config.tenants))
        _describe(runtime, sys.stderr)
        if api:
            server = _serve_api_in_background(runtime, host, port)
            print(f"Scheduler API on http://{host}:{port}", file=sys.stderr)
        else:
            metrics_server = _serve_metrics(config)
            if metrics_server is not None:
                where = f"{config.settings.metrics.bind}:{metrics_server.port}"
                print(f"metrics on http://{where}/metrics", file=sys.stderr)
        from syncd.operator_jobs import operator_jobs

        metered = metered_jobs(tenant_jobs)

        def jobs(service: SyncService) -> list[JobSpec]:
            # Paused tenants' jobs are skipped; each job's results land in the operator
            # state (the status page) and in the metrics.
            return operator_jobs(service, metered)

        Daemon(
            services,
            stop_event=stop,
            leases=leases,
            jobs=jobs,
            shards=lambda service: shard_jobs(
                service,
                count,
                scale.drain_seconds,
                lambda lease: _stop_check(stop, leases, lease),
            ),
        ).run_until_signalled()
    finally:
        # The jobs are done by now; the API answers the requests it has, then
        # the runtime (ledger, sandbox) goes.
        if server is not None:
            server.stop()
        if metrics_server is not None:
            metrics_server.stop()
        runtime.close()
    return 0


def _serve_metrics(config: LoadedConfig) -> MetricsServer | None:
    """The daemon's metrics endpoint; one that cannot listen is reported, not fatal:
    the sync goes on (an alert on the missing target tells the operator)."""
    try:
        return serve_metrics(config.settings.metrics)
    except ConfigError as error:
        log.error("%s", error)
        return None


def _stop_check(
    stop: threading.Event | _StopFlag, leases: Leases, tenant: str
) -> Callable[[], bool]:
    return lambda: stop.is_set() or not leases.holds(tenant)


def owns_mailbox(leases: Leases, tenant: str, count: int) -> Callable[[str], bool] | None:
    """Whether the tenant's poll here writes a mailbox's meetings itself (None: not
    sharded): only while this replica holds every shard of the tenant. Otherwise each
    write is claimed, those of this replica's own shards too, and the shards' drains
    (here and on the other replicas) make them side by side: written in the poll, a
    page would wait for its slowest write, and the tenant's poll would be the one
    replica's pace again."""
    if count <= 1:
        return None
    names = shard_leases(tenant, count)
    return lambda _email: all(leases.holds(name) for name in names)


@dataclass
class _ApiServer:
    server: Any
    thread: threading.Thread

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def _serve_api_in_background(runtime: Runtime, host: str, port: int) -> _ApiServer:
    import uvicorn

    from syncd.api.app import create_app
    from syncd.api.server import api_server_config

    settings = runtime.config.settings.api
    server = uvicorn.Server(
        api_server_config(create_app(runtime), settings=settings, host=host, port=port)
    )
    # Off the main thread uvicorn installs no signal handlers: SIGTERM stays the daemon's.
    thread = threading.Thread(target=server.run, name="syncd-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigError(
                f"the Scheduler API could not listen on {host}:{port}: "
                "pass --port or set SYNCD_API__PORT"
            )
        time.sleep(0.02)
    return _ApiServer(server, thread)


# ----------------------------------------------------------------- reconcile


class _StopFlag:
    """Set by SIGTERM/SIGINT during a pass: the pass stops between pages.

    A plain attribute, not an Event: a signal handler must not take locks.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def is_set(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, _frame: object) -> None:
        self.signum = signum

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals go to the main thread only; its caller handles them
            return
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def reconcile(
    config: LoadedConfig,
    *,
    tenant: str | None,
    dry_run: bool,
    full: bool,
    show_plan: bool,
    out: TextIO,
) -> int:
    """`syncd reconcile`: one pass per tenant.

    Exit 0 when every record synced, 1 when records failed (or the pass was
    interrupted), 2 when a tenant's setup is wrong, 3 when a running daemon holds a
    tenant's leases (syncd.reconcile_leases). One tenant's trouble does not keep the
    others from their pass.
    """
    names = synced_tenants(config, tenant)
    runtime = build_runtime(config)
    if runtime.sandbox is not None:
        print(
            "note: the sandbox was started inside this process and vanishes when it exits; "
            "for a sandbox that lasts between runs start `syncd sandbox` and set "
            "[sandbox] connection_file in the tenant's config",
            file=sys.stderr,
        )
    stop = _StopFlag()
    worst = 0
    # A dry run writes nothing: it runs beside a daemon.
    leases = LocalLeases() if dry_run else leases_for(runtime.engine, fair=False)
    shards = config.settings.scale.mailbox_shards
    try:
        with stop.installed():
            for name in names:
                if stop.is_set():
                    break
                paused = is_paused(runtime.engine, name)
                if paused is not None:
                    print(
                        f"tenant {name}: {paused.describe()}: skipped "
                        f"(`syncd resume --tenant {name}` resumes it)",
                        file=out,
                    )
                    continue
                with tenant_leases(leases, runtime.engine, name, shards) as busy:
                    if busy is not None:
                        print(busy, file=out)
                        worst = max(worst, EXIT_BUSY)
                        continue
                    # SIGTERM, or the lease lost (its connection died) stops the pass.
                    service = runtime.sync_services(
                        [name], lambda tenant: _stop_check(stop, leases, tenant)
                    ).get(name)
                    if service is None:  # broken: logged, and the other tenants still run
                        print(f"tenant {name}: skipped: {runtime.broken[name]}", file=out)
                        worst = max(worst, EXIT_SETUP)
                        continue
                    with log_context(tenant_name=name, correlation=f"{name}-reconcile"):
                        outcome = _tenant_pass(service, dry_run=dry_run, full=full)
                if outcome.report is not None:
                    count_pass(name, outcome.report)
                worst = max(worst, outcome.emit(verbose_plan=show_plan or dry_run, out=out))
    finally:
        leases.release_all()
        runtime.close()
    if stop.is_set():
        print(
            "syncd: interrupted: the pass stopped between pages; the next pass carries on",
            file=sys.stderr,
        )
        worst = max(worst, EXIT_RECORDS_FAILED)
    return worst


@dataclass
class _TenantOutcome:
    """What one tenant's pass did, printed once the progress line is gone."""

    name: str
    report: PassReport | None = None
    lines: list[str] = field(default_factory=list)
    failed: int = 0
    error: SyncdError | None = None

    def emit(self, *, verbose_plan: bool, out: TextIO) -> int:
        """Print the report (errors on stderr); return the tenant's exit status."""
        if self.report is not None:
            for line in pass_lines(self.name, self.report, verbose_plan=verbose_plan):
                print(line, file=out)
        for line in self.lines:
            print(line, file=out)
        if self.error is not None:
            print(
                f"syncd: tenant {self.name}: the pass stopped: "
                f"{self.error.message} ({self.error.code})",
                file=sys.stderr,
            )
            return EXIT_SETUP if self.error.code in SETUP_ERRORS else EXIT_RECORDS_FAILED
        return EXIT_RECORDS_FAILED if self.failed else 0


def _tenant_pass(service: SyncService, *, dry_run: bool, full: bool) -> _TenantOutcome:
    """Finish what an earlier run left half done, poll, retry due failures, then
    (not in a dry run) responses and availability."""
    name = service.tenant.name
    outcome = _TenantOutcome(name)
    try:
        if not dry_run:
            _resume(service, outcome)
        with _progress(f"{name}: reading Salesforce Events") as advance:
            run = service.full_resync if full else service.poll
            outcome.report = run(dry_run=dry_run, progress=advance)
            if not dry_run and not service.should_stop():
                _merge(outcome.report, service.retry_failed())
        outcome.failed += _failed_records(outcome.report)
        if dry_run or service.should_stop():
            return outcome
        responses = service.refresh_responses()
        outcome.lines.append(responses_line(name, responses))  # counts what was logged
        outcome.failed += len(responses.writeback_errors)
        availability = service.snapshot_availability()
        outcome.lines.append(availability_line(name, availability))
        outcome.lines += [
            f"  availability of {email} not written: {reason}"
            for email, reason in availability.errors
        ]
    except SyncdError as error:
        outcome.error = error
    return outcome


def _resume(service: SyncService, outcome: _TenantOutcome) -> None:
    """Finish the writes a killed run left half done (intents in the ledger).

    A write that still fails is reported and the pass goes on: the record keeps
    its failure and back-off, and one stuck record must not block every pass.
    """
    name = service.tenant.name

    failed: list[str] = []

    def failed_again(external_id: str, _error: SyncdError) -> None:
        failed.append(external_id)  # the core logged it, with its reason

    resumed = service.scheduler.resume(on_failure=failed_again)
    outcome.failed += len(failed)
    if resumed:
        outcome.lines.append(f"tenant {name}: finished {resumed} writes an earlier run left")
    if failed:
        outcome.lines.append(f"tenant {name}: {len(failed)} unfinished earlier writes failed again")


def _failed_records(report: PassReport) -> int:
    """Records that failed; in a dry run, those the plan says would fail."""
    if report.dry_run:
        return report.counts.get(Action.FAIL.value, 0)
    return len(report.failures) + len(report.writeback_errors)


def _merge(report: PassReport, retried: PassReport) -> None:
    report.records_read += retried.records_read
    for name, count in retried.counts.items():
        report.counts[name] += count
    report.steps.extend(retried.steps)
    report.failures.extend(retried.failures)
    report.writeback_errors.extend(retried.writeback_errors)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int], None]]:
    """A progress line on stderr when it is a terminal; nothing in a pipe or a journal.

    On stderr so that stdout (the report) stays clean when it is piped.
    """
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda count: progress.advance(task, count)


def _describe(runtime: Runtime, out: TextIO) -> None:
    for name, tenant in runtime.config.tenants.items():
        where = "built-in sandbox" if tenant.provider == "sandbox" else "Microsoft 365"
        print(f"tenant {name}: {where} ({', '.join(tenant.mail_domains)})", file=out)
    if runtime.sandbox is not None:
        print(f"sandbox Microsoft 365: {runtime.sandbox.base_url}", file=out)
        for name, org in runtime.sandbox.salesforce.items():
            with org.org.lock:
                # The invitees' child Events are copies: count what the org's people made.
                events = sum(1 for e in org.org.data.rows("Event") if not e.IsChild)
            print(f"sandbox Salesforce org of {name}: {org.base_url} ({events} Events)", file=out)


# -------------------------------------------------------------------- status


def status(config: LoadedConfig, *, tenant: str | None, as_json: bool, out: TextIO) -> int:
    """`syncd status`: per tenant the last poll, the backlog and the failures."""
    names = synced_tenants(config, tenant)
    engine = make_engine(config.database_url)
    try:
        ensure_migrated(engine)
        now = datetime.now(UTC)
        rows = [tenant_status(engine, name, now) for name in names]
        if engine.dialect.name == "postgresql":
            # Which replica runs each tenant's jobs, and each of its mailbox shards
            # (advisory locks, seen in pg_locks).
            count = config.settings.scale.mailbox_shards
            shards = {name: shard_leases(name, count) for name in names}
            held = holders(
                engine, [*names, *(s for each in shards.values() for s in each)], with_address=True
            )
            for row in rows:
                row["lease"] = held.get(row["tenant"])
                if shards[row["tenant"]]:
                    row["shards"] = [held.get(lease) for lease in shards[row["tenant"]]]
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(rows, indent=2), file=out)
        return 0
    for row in rows:
        for line in status_lines(row):
            print(line, file=out)
    return 0
