"""The sync faces of the command line: `syncd run`, `syncd reconcile`, `syncd status`."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from syncd.config import ConfigError, LoadedConfig
from syncd.domain import SyncdError
from syncd.ledger import queries as lq
from syncd.ledger.db import ensure_migrated, make_engine
from syncd.reports import availability_line, pass_lines, responses_line, status_lines
from syncd.runtime import Runtime, build_runtime
from syncd.sync.service import FEED_EVENT, PassReport

log = logging.getLogger("syncd")

#: Exit status of a pass in which records failed (config errors exit with 2).
EXIT_RECORDS_FAILED = 1


def synced_tenants(config: LoadedConfig, only: str | None) -> list[str]:
    """The tenants a command works on: one by name, or every configured one."""
    if only is not None:
        config.tenant(only)
        return [only]
    return list(config.tenants)


def run_daemon(config: LoadedConfig, *, api: bool, host: str, port: int) -> int:
    """`syncd run`: every tenant's jobs until SIGTERM/SIGINT, optionally with the API."""
    from syncd.daemon import Daemon

    stop = threading.Event()
    runtime = build_runtime(config)
    server = None
    try:
        services = {
            name: runtime.sync_service(name, should_stop=stop.is_set) for name in config.tenants
        }
        _describe(runtime, sys.stderr)
        if api:
            server = _serve_api_in_background(runtime, host, port)
            print(f"Scheduler API on http://{host}:{port}", file=sys.stderr)
        Daemon(services, stop_event=stop).run_until_signalled()
    finally:
        if server is not None:
            server.should_exit = True
        runtime.close()
    return 0


def reconcile(
    config: LoadedConfig,
    *,
    tenant: str | None,
    dry_run: bool,
    full: bool,
    show_plan: bool,
    out: TextIO,
) -> int:
    """`syncd reconcile`: one pass per tenant; exit 1 when records failed."""
    names = synced_tenants(config, tenant)
    runtime = build_runtime(config)
    failed = 0
    if runtime.sandbox is not None:
        print(
            "note: the sandbox was started inside this process and vanishes when it exits; "
            "for a sandbox that lasts between runs start `syncd sandbox` and set "
            "[sandbox] connection_file in the tenant's config",
            file=sys.stderr,
        )
    try:
        for name in names:
            service = runtime.sync_service(name)
            with _progress(f"{name}: reading Salesforce Events") as advance:
                if full:
                    report = service.full_resync(dry_run=dry_run, progress=advance)
                else:
                    report = service.poll(dry_run=dry_run, progress=advance)
                if not dry_run:
                    _merge(report, service.retry_failed())
            for line in pass_lines(name, report, verbose_plan=show_plan or dry_run):
                print(line, file=out)
            failed += len(report.failures) + len(report.writeback_errors)
            if dry_run:
                continue
            print(responses_line(name, service.refresh_responses()), file=out)
            availability = service.snapshot_availability()
            print(availability_line(name, availability), file=out)
            for email, reason in availability.errors:
                print(f"  availability of {email} not written: {reason}", file=out)
    except SyncdError as error:
        print(f"syncd: the pass stopped: {error.message} ({error.code})", file=sys.stderr)
        return EXIT_RECORDS_FAILED
    finally:
        runtime.close()
    return EXIT_RECORDS_FAILED if failed else 0


def status(config: LoadedConfig, *, tenant: str | None, as_json: bool, out: TextIO) -> int:
    """`syncd status`: per tenant the last poll, the backlog and the failures."""
    engine = make_engine(config.database_url)
    try:
        ensure_migrated(engine)
        rows = []
        for name in synced_tenants(config, tenant):
            rows.append(
                {
                    "tenant": name,
                    "last_poll": lq.last_run(engine, name, FEED_EVENT),
                    "counts": lq.count_by_status(engine, name),
                    "failures": lq.recent_failures(engine, name),
                }
            )
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(rows, default=str, indent=2), file=out)
        return 0
    for row in rows:
        for line in status_lines(row["tenant"], row["last_poll"], row["counts"], row["failures"]):
            print(line, file=out)
    return 0


def _merge(report: PassReport, retried: PassReport) -> None:
    report.records_read += retried.records_read
    for name, count in retried.counts.items():
        report.counts[name] += count
    report.steps.extend(retried.steps)
    report.failures.extend(retried.failures)
    report.writeback_errors.extend(retried.writeback_errors)


@contextmanager
def _progress(label: str) -> Iterator[Any]:
    """A progress line on a terminal; nothing when output goes to a file or pipe."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
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
            print(
                f"sandbox Salesforce org of {name}: {org.base_url} "
                f"({len(org.org.ids_of('Event'))} Events)",
                file=out,
            )


def _serve_api_in_background(runtime: Runtime, host: str, port: int) -> Any:
    import uvicorn

    from syncd.api.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime), host=host, port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="syncd-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigError(f"the Scheduler API could not listen on {host}:{port}")
        time.sleep(0.02)
    return server
