"""What the benchmarks share: a sandbox world, the child processes that sync, bounds, tables.

Layout of one benchmark run:

- this process hosts the sandbox (Microsoft 365 + the tenant's Salesforce org, both
  over HTTPS on 127.0.0.1) with the simulated Graph latency and the documented
  per-mailbox limits switched on, and reads the sandbox's own counters;
- syncd runs in a child process (`python -m bench.worker`), built from a config
  that points at the sandbox's connection file, exactly as `syncd run` would be;
- the naive peer runs in another child process (`python -m bench.naive_peer`) on the
  same data, after syncd.

Separate processes keep syncd's CPU time and peak RSS its own (the sandbox's
work is not counted against it) and let the sandbox and the client each use a
core instead of sharing one interpreter lock.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.child import RESULT_MARK, TENANT
from syncd.config import load_config
from syncd.ledger.db import upgrade
from syncd.sandbox.microsoft.directory import NO_MAILBOX_EVERY
from syncd.sandbox.salesforce.generator import add_events
from syncd.sandbox.server import (
    RunningSandbox,
    SalesforceOrgEndpoint,
    SandboxTenantSpec,
    start_sandbox,
    write_connection_file,
)

DOMAIN = "contoso.example"
SEED = 7
#: The simulated Graph latency of every request (a $batch's inner ones each sleep it).
LATENCY = 0.1
#: Outlook's documented concurrency per app and mailbox (the sandbox enforces it).
MAILBOX_CONCURRENCY = 4
#: 1..8 invitees, weighted like the demo org's 1..8 (no meeting without attendees).
INVITEES_1_TO_8 = (0, 22, 20, 14, 9, 6, 4, 3, 2)
#: getSchedule: 20 addresses and < 62 days per request.
SCHEDULE_ADDRESSES = 20
SCHEDULE_DAYS = 62
#: sObject Collections take 200 records per call.
COLLECTION_SIZE = 200

#: Set to a directory to record each child under py-spy (collapsed stacks, see bench.profile).
PROFILE_ENV = "BENCH_PYSPY"
PROFILE_MODE_ENV = "BENCH_PYSPY_MODE"
ROOT = Path(__file__).resolve().parent.parent

console = Console(width=None if sys.stdout.isatty() else 150)


def directory_size(mailboxes: int) -> int:
    """Users to generate so that at least `mailboxes` of them have a mailbox
    (every tenth generated user is unlicensed)."""
    users = mailboxes
    while users - users // NO_MAILBOX_EVERY < mailboxes:
        users += 1
    return users


@dataclass(frozen=True)
class GraphCounts:
    """What reached the sandbox's Graph: HTTP round trips and Graph requests (each request
    inside a $batch counts as one, as Graph's throttling counts them)."""

    round_trips: int
    requests: int
    per_route: dict[str, int]
    per_mailbox: dict[str, int]
    throttled: int

    def minus(self, other: GraphCounts) -> GraphCounts:
        return GraphCounts(
            self.round_trips - other.round_trips,
            self.requests - other.requests,
            _minus(self.per_route, other.per_route),
            _minus(self.per_mailbox, other.per_mailbox),
            self.throttled - other.throttled,
        )

    def route(self, text: str) -> int:
        """Requests whose route contains `text`, e.g. "calendarView" or "POST /users"."""
        return sum(n for route, n in self.per_route.items() if text in route)


def _minus(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


@dataclass(frozen=True)
class SalesforceCounts:
    calls: int
    per_resource: dict[str, int]
    records_written: int

    def minus(self, other: SalesforceCounts) -> SalesforceCounts:
        return SalesforceCounts(
            self.calls - other.calls,
            _minus(self.per_resource, other.per_resource),
            self.records_written - other.records_written,
        )


@dataclass
class Measured:
    """One side's run of one job: the child's own figures plus the sandbox's counts."""

    result: dict[str, Any]
    graph: GraphCounts
    salesforce: SalesforceCounts
    #: CPU seconds the sandbox (this process) spent while the child ran.
    sandbox_cpu: float

    @property
    def wall(self) -> float:
        return float(self.result["wall_seconds"])

    @property
    def cpu(self) -> float:
        return float(self.result["cpu_seconds"])


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class World:
    """A sandbox with one tenant (`bench`), its org filled with generated Events, a
    migrated ledger and a config for the children. Use as a context manager."""

    mailboxes: int
    events: int = 0
    organizers: int | None = None
    seed: int = SEED
    horizon_days: int = 14
    keep: bool = False
    directory_users: int = 0
    tmp: Path = field(init=False)
    sandbox: RunningSandbox = field(init=False)
    config_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="syncd-bench-"))
        self.directory_users = directory_size(self.mailboxes)
        spec = SandboxTenantSpec(
            TENANT, DOMAIN, users=self.directory_users, seed=self.seed, salesforce_events=0
        )
        self.sandbox = start_sandbox(state_dir=self.tmp / "sandbox", tenants=[spec])
        try:
            connection = write_connection_file(self.sandbox)
            if self.events:
                add_events(
                    self.endpoint.org,
                    self.events,
                    seed=self.seed,
                    owners=self.organizer_emails,
                    invitee_weights=INVITEES_1_TO_8,
                    start=date.today() + timedelta(days=1),
                    days=28,
                )
            self.config_path = self._write_config(connection)
            upgrade(load_config(self.config_path).database_url)
        except BaseException:
            self.close()
            raise

    # -- the parts -----------------------------------------------------------------------
    @property
    def endpoint(self) -> SalesforceOrgEndpoint:
        return self.sandbox.org(TENANT)

    @property
    def mailbox_emails(self) -> list[str]:
        users = self.sandbox.tenant(TENANT).users
        return [u.email for u in users if u.has_mailbox][: self.mailboxes]

    @property
    def organizer_emails(self) -> list[str]:
        return self.mailbox_emails[: self.organizers or self.mailboxes]

    @property
    def database(self) -> Path:
        return self.tmp / "config" / "state" / "syncd.db"

    def _write_config(self, connection: Path) -> Path:
        directory = self.tmp / "config"
        tenants = directory / "tenants"
        tenants.mkdir(parents=True)
        (tenants / f"{TENANT}.toml").write_text(
            f'name = "{TENANT}"\nprovider = "sandbox"\nmail_domains = ["{DOMAIN}"]\n\n'
            f"[sandbox]\nseed = {self.seed}\nusers = {self.directory_users}\n"
            f'salesforce_events = 0\nconnection_file = "{connection}"\n\n'
            f"[salesforce.schedules]\navailability_horizon_days = {self.horizon_days}\n\n"
            # Answers go to EventRelation too (off by default), as the figures measure.
            "[salesforce.fields]\nevent_relation_status = true\n"
        )
        path = directory / "syncd.toml"
        path.write_text('tenants_dir = "tenants"\nstate_dir = "state"\nlog_level = "WARNING"\n')
        return path

    def copy_ledger(self, name: str) -> Path:
        """A consistent copy of syncd's ledger (the naive peer's memory of the meetings)."""
        target = self.tmp / name
        with sqlite3.connect(self.database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        return target

    # -- knobs ---------------------------------------------------------------------------
    def graph_latency(self, seconds: float) -> None:
        """Simulated latency of every Graph request; the documented limits stay on."""
        self.sandbox.faults.configure(latency_seconds=seconds)
        self.sandbox.throttle.configure(enabled=True)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock (both the Graph and the Salesforce side read it)."""
        self.sandbox.clock.advance(seconds)

    # -- counts --------------------------------------------------------------------------
    def graph_counts(self) -> GraphCounts:
        counters = self.sandbox.counters
        snapshot = counters.snapshot()
        routes = dict(snapshot["per_route"])
        envelopes = routes.get("POST /$batch", 0)
        return GraphCounts(
            round_trips=int(snapshot["graph_requests"]),
            requests=int(snapshot["graph_requests"])
            - envelopes
            + int(snapshot["batch_inner_requests"]),
            per_route=routes,
            per_mailbox=dict(snapshot["per_mailbox"]),
            throttled=int(snapshot["throttled"]),
        )

    def salesforce_counts(self) -> SalesforceCounts:
        snapshot = self.endpoint.state.counters.snapshot()
        return SalesforceCounts(
            calls=int(snapshot["api_calls"]),
            per_resource=dict(snapshot["per_resource"]),
            records_written=int(snapshot["records_written"]),
        )

    # -- children ------------------------------------------------------------------------
    def run(self, module: str, job: str, *args: str, timeout: float = 7200) -> Measured:
        """Run `python -m <module> <job> --config ... <args>` and measure it."""
        graph_before, sf_before = self.graph_counts(), self.salesforce_counts()
        cpu_before = _process_cpu()
        result = run_child(module, job, "--config", str(self.config_path), *args, timeout=timeout)
        sandbox_cpu = _process_cpu() - cpu_before
        return Measured(
            result=result,
            graph=self.graph_counts().minus(graph_before),
            salesforce=self.salesforce_counts().minus(sf_before),
            sandbox_cpu=sandbox_cpu,
        )

    def ours(self, job: str, *args: str, timeout: float = 7200) -> Measured:
        return self.run("bench.worker", job, *args, timeout=timeout)

    def peer(self, job: str, *args: str, timeout: float = 7200) -> Measured:
        return self.run("bench.naive_peer", job, *args, timeout=timeout)

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        sandbox = getattr(self, "sandbox", None)
        if sandbox is not None:
            sandbox.stop()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> World:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def run_child(module: str, *args: str, timeout: float = 7200) -> dict[str, Any]:
    """Run a benchmark child and return the JSON it prints after RESULT_MARK."""
    command = [sys.executable, "-m", module, *args]
    profile_dir = os.environ.get(PROFILE_ENV)
    if profile_dir:
        # py-spy samples every thread of the child (the executor's included).
        out = Path(profile_dir) / f"{module.rsplit('.', 1)[-1]}-{args[0]}-{time.time():.0f}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        # --gil: CPU (where the interpreter lock is held); wall mode: every thread, idle too.
        mode = ["--idle", "--threads"] if os.environ.get(PROFILE_MODE_ENV) == "wall" else ["--gil"]
        command = [spy, "record", *mode, "--rate", "250", "--format", "raw", "-o", str(out), "--"]
        command += [sys.executable, "-m", module, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return dict(json.loads(line[len(RESULT_MARK) :]))
    raise RuntimeError(
        f"{module} {args[0]} failed (exit {done.returncode}):\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    )


# -- bounds ------------------------------------------------------------------------------


def mailbox_bound(per_mailbox: Iterable[int], latency: float) -> float:
    """The least wall time the per-mailbox concurrency allows: each mailbox takes
    ceil(requests / 4) latency rounds, mailboxes run side by side."""
    rounds = max((math.ceil(n / MAILBOX_CONCURRENCY) for n in per_mailbox), default=0)
    return rounds * latency


def schedule_chunks(users: int, days: float) -> int:
    """getSchedule requests needed: 20 addresses and < 62 days each."""
    return math.ceil(users / SCHEDULE_ADDRESSES) * max(1, math.ceil(days / SCHEDULE_DAYS))


def collections(records: int) -> int:
    return math.ceil(records / COLLECTION_SIZE)


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    if b == 0:
        return "-" if a == 0 else "inf"
    value = a / b
    return f"{value:.3g}"


# -- output ------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass
class Row:
    """One line of a figures table: ours, the naive peer's, the lower bound."""

    metric: str
    ours: Any
    peer: Any = None
    bound: Any = None
    note: str = ""

    def cells(self) -> list[str]:
        numeric = all(isinstance(v, int | float) or v is None for v in (self.ours, self.peer))
        ours_bound = (
            ratio(self.ours, self.bound) if numeric and isinstance(self.bound, int | float) else "-"
        )
        peer_ours = ratio(self.peer, self.ours) if numeric and self.peer is not None else "-"
        return [
            self.metric,
            fmt(self.ours),
            fmt(self.peer),
            fmt(self.bound),
            ours_bound,
            peer_ours,
            self.note,
        ]


HEADERS = ["metric", "syncd", "naive peer", "bound", "syncd/bound", "peer/syncd", "note"]


def print_table(title: str, rows: Sequence[Row]) -> None:
    table = Table(title=title, title_justify="left")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("metric", "note") else "right")
    for row in rows:
        table.add_row(*row.cells())
    console.print(table)


def machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpus} CPU {model} / Python {platform.python_version()} / {platform.system()}"


def save(
    path: str | None,
    name: str,
    params: Mapping[str, Any],
    rows: Sequence[Row],
    targets: Sequence[Target] = (),
) -> None:
    """Write the figures as JSON when --json PATH was given."""
    if not path:
        return
    data = {
        "targets": [t.line() for t in targets],
        "benchmark": name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": dict(params),
        "rows": [
            {
                "metric": r.metric,
                "ours": r.ours,
                "peer": r.peer,
                "bound": r.bound,
                "note": r.note,
            }
            for r in rows
        ],
    }
    Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")


def header(name: str, params: Mapping[str, Any]) -> None:
    console.print(f"[bold]{name}[/bold]  " + "  ".join(f"{k}={v}" for k, v in params.items()))
    console.print(f"machine: {machine()}; started {time.strftime('%Y-%m-%d %H:%M:%S')}")


def base_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The flags every benchmark takes."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {prog}",
        description=(doc or "").strip().splitlines()[0] if doc else None,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument(
        "--latency", type=float, default=LATENCY, help="simulated Graph latency, seconds"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the naive peer")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser


@dataclass(frozen=True)
class Target:
    """One of the issue's targets and whether this run met it."""

    text: str
    met: bool
    figure: str

    def line(self) -> str:
        return f"{'MET   ' if self.met else 'MISSED'}  {self.text}: {self.figure}"


def print_targets(targets: Sequence[Target]) -> None:
    for target in targets:
        style = "green" if target.met else "red"
        console.print(f"[{style}]{target.line()}[/{style}]")
