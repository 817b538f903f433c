"""Benchmark: the first sync of several tenants by 1, 2 and 4 `syncd run` replicas over
one PostgreSQL, against the bound the per-mailbox concurrency allows.

    SYNCD_TEST_POSTGRES_URL=postgresql+psycopg://... \\
        .venv/bin/python -m bench.replicas [--tenants 8] [--mailboxes 10] [--events 150]
                                           [--replicas 1 2 4] [--latency 0.1] [--quick]
                                           [--shards 1] [--one-large-tenant]

For each replica count: a fresh sandbox (this process) with `--tenants` tenants, each
an org of `--events` generated Events owned by `--mailboxes` organizers; a fresh
PostgreSQL schema; `syncd db upgrade`; then that many `syncd run` processes, started
together, until every Event is a meeting in Outlook (read from the sandbox by the
syncd key stamped on each meeting, which also proves there is no second one).
Throughput is meetings per second of wall time from the replicas' start; "steady"
leaves out the start-up (interpreter, logins, first Salesforce query: the time to
the first meeting).

`--one-large-tenant` is the latency-bound case the mailbox shards are for: one tenant
of many mailboxes, Graph answering in 1 s, the tenant's mailboxes in 8 shards
(`[scale] mailbox_shards`); with `--shards 1` the same run shows one tenant on one
replica, however many run.

The bound: Outlook lets an app have 4 requests in flight per mailbox, so with the
simulated latency L a mailbox with n creates needs at least ceil(n / 4) * L, and all
mailboxes of all tenants can run side by side: no number of replicas syncs faster.
The sandbox answers every request from this one interpreter; on a small machine its
CPU, shared with the replicas, is the other floor (printed: sandbox CPU seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.common import (
    INVITEES_1_TO_8,
    LATENCY,
    MAILBOX_CONCURRENCY,
    ROOT,
    console,
    directory_size,
    machine,
    mailbox_bound,
)
from syncd.core.event_mapping import EXTERNAL_KEY_PROPERTY_ID
from syncd.sandbox.microsoft.extended_props import lookup
from syncd.sandbox.salesforce.generator import add_events
from syncd.sandbox.server import RunningSandbox, SandboxTenantSpec, start_sandbox
from syncd.sandbox.server import write_connection_file as connection_file_of

POSTGRES_ENV = ("SYNCD_BENCH_POSTGRES_URL", "SYNCD_TEST_POSTGRES_URL")
SEED = 11


@dataclass
class Result:
    replicas: int
    meetings: int
    expected: int
    wall: float
    first: float
    bound: float
    replica_cpu: float
    sandbox_cpu: float
    postgres_cpu: float | None
    busy: float
    live_replicas_holding: int

    @property
    def throughput(self) -> float:
        return self.meetings / self.wall if self.wall else 0.0

    @property
    def steady(self) -> float:
        span = self.wall - self.first
        return self.meetings / span if span > 0 else 0.0

    @property
    def bound_throughput(self) -> float:
        return self.expected / self.bound if self.bound else math.inf


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _postmaster(admin: Any) -> int | None:
    """The pid of the server's postmaster, when the server runs on this host."""
    with admin.connect() as connection:
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        status = Path(f"/proc/{backend}/status").read_text()
    except OSError:
        return None  # another host
    ppid = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
    return int(ppid)


def _postgres_cpu(postmaster: int | None) -> float | None:
    """CPU seconds of the server: the postmaster, its live children, and those it reaped."""
    if postmaster is None:
        return None
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            if pid == postmaster:
                ticks += sum(int(v) for v in parts[11:15])  # utime stime cutime cstime
            elif int(parts[1]) == postmaster:  # ppid
                ticks += int(parts[11]) + int(parts[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _schema_url(base: str, schema: str) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _tenants(count: int) -> list[str]:
    return [f"bench{i}" for i in range(1, count + 1)]


def _start_world(
    directory: Path, tenants: list[str], mailboxes: int, events: int
) -> tuple[RunningSandbox, dict[str, int]]:
    """The sandbox with every tenant's org filled; returns creates per mailbox."""
    users = directory_size(mailboxes)
    specs = [
        SandboxTenantSpec(name, f"{name}.example", users=users, seed=SEED + i, salesforce_events=0)
        for i, name in enumerate(tenants)
    ]
    sandbox = start_sandbox(state_dir=directory / "sandbox", tenants=specs)
    per_mailbox: dict[str, int] = {}
    for name in tenants:
        organizers = [u.email for u in sandbox.tenant(name).users if u.has_mailbox][:mailboxes]
        org = sandbox.org(name).org
        add_events(
            org,
            events,
            seed=SEED,
            owners=organizers,
            invitee_weights=INVITEES_1_TO_8,
            start=date.today() + timedelta(days=1),
            days=28,
        )
        owners: Counter[str] = Counter()
        with org.lock:
            emails = {u.Id: str(u.Email).lower() for u in org.data.rows("User")}
            for event in org.data.rows("Event"):
                if not event.IsChild:
                    owners[emails[event.OwnerId]] += 1
        per_mailbox.update({f"{name}/{k}": v for k, v in owners.items()})
    return sandbox, per_mailbox


def _write_config(
    directory: Path, connection: Path, database_url: str, tenants: list[str], shards: int = 1
) -> Path:
    config = directory / "config"
    (config / "tenants").mkdir(parents=True)
    for name in tenants:
        (config / "tenants" / f"{name}.toml").write_text(
            f'name = "{name}"\nprovider = "sandbox"\nmail_domains = ["{name}.example"]\n\n'
            f'[sandbox]\nsalesforce_events = 0\nconnection_file = "{connection}"\n\n'
            # Only the first sync is measured: the other jobs wait.
            "[salesforce.schedules]\npoll_seconds = 5\nresponses_seconds = 3600\n"
            "availability_seconds = 86400\nretry_failed_seconds = 3600\n"
        )
    key = directory / "master.key"
    key.write_text(uuid.uuid4().hex * 2)
    path = config / "syncd.toml"
    path.write_text(
        f'database_url = "{database_url}"\ntenants_dir = "tenants"\nstate_dir = "state"\n'
        f'log_level = "WARNING"\nmaster_key = {{ file = "{key}" }}\n'
        f"[scale]\nmailbox_shards = {shards}\n"
    )
    return path


def _live_meetings(sandbox: RunningSandbox, tenants: list[str]) -> tuple[int, int]:
    """(live meetings, distinct Events they stand for) in the tenants' Outlook."""
    total, keys = 0, set()
    for name in tenants:
        for user in sandbox.tenant(name).users:
            if not user.has_mailbox:
                continue
            for event in sandbox.calendars.events(
                user.id, lambda e: e.is_organizer and not e.is_cancelled
            ):
                total += 1
                stamped = lookup(event.extended, EXTERNAL_KEY_PROPERTY_ID)
                keys.add(stamped[1] if stamped else f"unstamped {event.id}")
    return total, len(keys)


def _syncd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "syncd.cli", "--config", str(config), *args]


def measure(
    postgres_url: str,
    replicas: int,
    *,
    tenants: int,
    mailboxes: int,
    events: int,
    latency: float,
    shards: int = 1,
    timeout: float = 1800,
) -> Result:
    names = _tenants(tenants)
    directory = Path(tempfile.mkdtemp(prefix="syncd-bench-replicas-"))
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sandbox, per_mailbox = _start_world(directory, names, mailboxes, events)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        config = _write_config(
            directory,
            connection_file_of(sandbox),
            _schema_url(postgres_url, schema),
            names,
            shards,
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("SYNCD_TEST_DATABASE", None)
        subprocess.run(_syncd(config, "db", "upgrade"), check=True, env=env, capture_output=True)
        sandbox.faults.configure(latency_seconds=latency)
        sandbox.throttle.configure(enabled=True)
        expected = tenants * events
        children_cpu, sandbox_cpu = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
        postmaster = _postmaster(admin)
        postgres_cpu, ticks = _postgres_cpu(postmaster), _machine_ticks()
        started = time.monotonic()
        for index in range(replicas):
            log = (directory / f"replica{index}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    _syncd(config, "run"), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
                )
            )
        first = None
        while True:
            made, distinct = _live_meetings(sandbox, names)
            now = time.monotonic() - started
            if made and first is None:
                first = now
            if distinct >= expected:
                break
            if now > timeout or any(p.poll() is not None for p in processes):
                logs = "\n".join(
                    (directory / f"replica{i}.log").read_text()[-2000:] for i in range(replicas)
                )
                raise RuntimeError(f"{made}/{expected} meetings after {now:.0f} s:\n{logs}")
            time.sleep(0.1)
        wall = time.monotonic() - started
        if made != distinct:
            raise RuntimeError(f"{made - distinct} duplicate meetings in Outlook")
        busy_after, total_after = _machine_ticks()
        postgres_after = _postgres_cpu(postmaster)
        holding = _holders(_schema_url(postgres_url, schema), names, shards)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(120)
        return Result(
            replicas=replicas,
            meetings=made,
            expected=expected,
            wall=wall,
            first=first or wall,
            bound=mailbox_bound(per_mailbox.values(), latency),
            replica_cpu=_cpu(resource.RUSAGE_CHILDREN) - children_cpu,
            sandbox_cpu=_cpu(resource.RUSAGE_SELF) - sandbox_cpu,
            postgres_cpu=(
                postgres_after - postgres_cpu
                if postgres_after is not None and postgres_cpu is not None
                else None
            ),
            busy=(busy_after - ticks[0]) / (total_after - ticks[1])
            if total_after > ticks[1]
            else 0,
            live_replicas_holding=holding,
        )
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        sandbox.stop()
        shutil.rmtree(directory, ignore_errors=True)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _holders(url: str, names: list[str], shards: int) -> int:
    """How many distinct replicas hold a tenant's or a shard's lease right now."""
    from syncd.ledger.db import make_engine
    from syncd.ledger.lease import holders
    from syncd.ledger.shards import shard_leases

    engine = make_engine(url)
    leases = [*names, *(s for name in names for s in shard_leases(name, shards))]
    try:
        return len(set(holders(engine, leases).values()))
    finally:
        engine.dispose()


def print_results(results: list[Result], params: dict[str, Any]) -> None:
    table = Table(title="first sync by N replicas over one PostgreSQL", title_justify="left")
    for column in (
        "replicas",
        "meetings",
        "wall s",
        "to 1st s",
        "meetings/s",
        "steady/s",
        "bound/s",
        "syncd/bound",
        "x 1 replica",
        "replica CPU s",
        "sandbox CPU s",
        "postgres CPU s",
        "machine busy",
        "holding",
    ):
        table.add_column(column, justify="right")
    base = results[0].throughput if results else 0.0
    for r in results:
        table.add_row(
            str(r.replicas),
            f"{r.meetings:,}",
            f"{r.wall:.1f}",
            f"{r.first:.1f}",
            f"{r.throughput:.1f}",
            f"{r.steady:.1f}",
            f"{r.bound_throughput:.0f}",
            f"{r.throughput / r.bound_throughput:.3f}",
            f"{r.throughput / base:.2f}" if base else "-",
            f"{r.replica_cpu:.1f}",
            f"{r.sandbox_cpu:.1f}",
            "-" if r.postgres_cpu is None else f"{r.postgres_cpu:.1f}",
            f"{r.busy:.0%}",
            str(r.live_replicas_holding),
        )
    console.print(table)
    console.print(
        f"bound: {MAILBOX_CONCURRENCY} requests in flight per mailbox, latency "
        f"{params['latency']} s, every mailbox side by side; 'holding': replicas holding a "
        "tenant's or shard's lease at the end; 'machine busy': share of all CPUs in use "
        "during the sync (other processes included)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replicas", description=(__doc__ or "").strip().splitlines()[0]
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--mailboxes", type=int, default=10, help="organizers per tenant")
    parser.add_argument("--events", type=int, default=150, help="Events per tenant")
    parser.add_argument("--latency", type=float, default=LATENCY, help="Graph latency, s")
    parser.add_argument("--shards", type=int, default=1, help="[scale] mailbox_shards")
    parser.add_argument(
        "--one-large-tenant",
        action="store_true",
        help="1 tenant, 64 mailboxes, 1,500 Events, 1 s latency, 8 shards (each unless given)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--postgres", help=f"server URL (default: ${POSTGRES_ENV[0]})")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    url = args.postgres or next((os.environ[v] for v in POSTGRES_ENV if os.environ.get(v)), None)
    if not url:
        parser.error(f"a PostgreSQL server is needed: --postgres URL or ${POSTGRES_ENV[0]}")
    if args.one_large_tenant:
        given = {a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:])}
        preset = {"tenants": 1, "mailboxes": 64, "events": 1500, "latency": 1.0, "shards": 8}
        for key, value in preset.items():
            if f"--{key}" not in given:
                setattr(args, key, value)
    if args.quick:
        args.tenants, args.mailboxes, args.events = 4, 5, 30
    params = {
        "tenants": args.tenants,
        "mailboxes": args.mailboxes,
        "events": args.events,
        "latency": args.latency,
        "shards": args.shards,
    }
    console.print(
        "[bold]bench.replicas[/bold]  " + "  ".join(f"{k}={v}" for k, v in params.items())
    )
    console.print(f"machine: {machine()}")
    results = []
    for count in args.replicas:
        results.append(measure(url, count, **params))
        console.print(f"  {count} replica(s): {results[-1].throughput:.1f} meetings/s")
    print_results(results, params)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "benchmark": "replicas",
                    "machine": machine(),
                    "params": params,
                    "results": [
                        {**asdict(r), "throughput": r.throughput, "steady": r.steady}
                        for r in results
                    ],
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
