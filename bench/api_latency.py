"""Benchmark 6: what the Scheduler API adds to a meeting's create and read, over the Graph call.

    .venv/bin/python -m bench.api_latency [--rounds 200] [--quick]

This process hosts the sandbox (Graph over HTTPS on 127.0.0.1, no simulated latency
unless --latency); `syncd serve` runs in a child process on the config a deployment
would use, with a client minted by `syncd clients create`. Each round, one after the
other on keep-alive connections:

- API create: POST /api/salesforce/scheduler/meeting (a new meeting);
- direct create: the very Graph request(s) that create made (method, path, headers and
  body as the sandbox received them; a fresh transactionId), sent straight to the
  sandbox with syncd's HTTP session;
- API read: GET /api/salesforce/scheduler/meeting?id=...;
- direct read: the Graph request(s) that read made, likewise.

Interleaving the two sides keeps the machine's load the same for both. Printed: the
median and p90 of each, and the milliseconds the API adds at the median (target: at
most 5 ms). The smoke test checks the counts only (one Graph request per API call).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.child import TENANT
from bench.common import (
    ROOT,
    Row,
    Target,
    World,
    base_parser,
    header,
    print_table,
    print_targets,
    save,
)
from syncd.core.scheduler import _READ_FIELDS as READ_FIELDS  # the read's $select
from syncd.graph import odata
from syncd.graph.http import build_session
from syncd.sandbox.stats import GraphExchange, observe_exchanges

MEETING = "/api/salesforce/scheduler/meeting"
#: What the API may add at the median over the same Graph request made directly.
ADDED_MS_TARGET = 5.0
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: Request headers the direct call takes over from the API's Graph request: the rest
#: (authorization, host, length, client ids) belong to the connection or the caller.
REPLAYED_HEADERS = ("content-type", "prefer", "accept")


@dataclass
class Timings:
    """Milliseconds per call of one kind, and the Graph requests each call made."""

    millis: list[float]
    graph_requests: list[int]

    def median(self) -> float:
        return statistics.median(self.millis)

    def p90(self) -> float:
        return (
            statistics.quantiles(self.millis, n=10)[-1] if len(self.millis) > 1 else self.millis[0]
        )


class Exchanges:
    """The top-level Graph requests the sandbox answers while recording is on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[GraphExchange] = []

    def __call__(self, exchange: GraphExchange) -> None:
        if not exchange.inner:
            with self._lock:
                self._seen.append(exchange)

    def take(self) -> list[GraphExchange]:
        with self._lock:
            seen, self._seen = self._seen, []
        return seen


def _syncd(config: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "syncd.cli", "--config", str(config), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, cwd=ROOT, env=env, text=True, **popen)


def _mint_client(config: Path) -> dict[str, str]:
    process = _syncd(
        config, "clients", "create", "--tenant", TENANT, "--json", stdout=subprocess.PIPE
    )
    out, _ = process.communicate(timeout=120)
    if process.returncode != 0:
        raise RuntimeError(f"syncd clients create failed (exit {process.returncode})")
    return dict(json.loads(out))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_api(config: Path) -> Iterator[str]:
    """`syncd serve` in a child process until the block ends; yields its URL."""
    port = _free_port()
    process = _syncd(
        config,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                _, err = process.communicate()
                raise RuntimeError(f"syncd serve exited ({process.returncode}):\n{err[-3000:]}")
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("syncd serve did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _api_session(url: str, client: dict[str, str]) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    answer = session.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
        timeout=30,
    )
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def _graph_session(world: World) -> requests.Session:
    """syncd's own HTTP session (trust, pool, hooks), holding a Graph token of the tenant."""
    session = build_session(world.sandbox.ca_file)
    _, client_id, secret = world.sandbox.credentials(TENANT)
    answer = session.post(
        world.sandbox.token_endpoint(TENANT),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": GRAPH_SCOPE,
        },
        timeout=30,
    )
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def _replay(
    graph: requests.Session, graph_url: str, exchanges: Sequence[GraphExchange], query: str
) -> None:
    """Send the same Graph requests straight to the sandbox; a create gets a new
    transactionId (Graph would answer a repeated one with the first create's event)."""
    for exchange in exchanges:
        body = exchange.body
        if isinstance(body, dict) and "transactionId" in body:
            body = {**body, "transactionId": str(uuid.uuid4())}
        headers = {k: v for k, v in exchange.headers.items() if k in REPLAYED_HEADERS}
        answer = graph.request(
            exchange.method,
            graph_url + exchange.path + (query if exchange.method == "GET" else ""),
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
            timeout=30,
        )
        if answer.status_code >= 300:
            raise RuntimeError(f"direct {exchange.method} {exchange.path}: {answer.status_code}")


def _timed(call: Callable[..., None], *args: Any, **kwargs: Any) -> float:
    """Milliseconds `call(*args, **kwargs)` took."""
    started = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def _api(api: requests.Session, method: str, url: str, **kwargs: Any) -> None:
    """One Scheduler API call on the meeting endpoint; anything but 200 ends the run."""
    answer = api.request(method, url + MEETING, timeout=60, **kwargs)
    if answer.status_code != 200:
        raise RuntimeError(f"API {method}: {answer.status_code} {answer.text[:500]}")


def _meeting(organizer: str, attendee: str, day: datetime) -> dict[str, Any]:
    start = day.replace(hour=10, minute=0, second=0, microsecond=0)
    return {
        "id": f"bench-{uuid.uuid4()}",
        "organizerEmail": organizer,
        "subject": "Pipeline review",
        "body": "agenda",
        "location": "Room 2",
        "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "attendees": [{"email": attendee, "isRequired": "true"}],
    }


def measure(rounds: int, latency: float, warmup: int = 5) -> dict[str, Timings]:
    """Interleaved API and direct calls; the first `warmup` rounds are not counted."""
    kinds = ("api_create", "direct_create", "api_read", "direct_read")
    timings = {kind: Timings([], []) for kind in kinds}
    read_query = odata.query(odata.select(READ_FIELDS))
    with World(mailboxes=4) as world:
        world.graph_latency(latency)
        mailboxes = world.mailbox_emails
        client = _mint_client(world.config_path)
        exchanges = Exchanges()
        stop_observing = observe_exchanges(exchanges)
        try:
            with (
                serving_api(world.config_path) as url,
                _api_session(url, client) as api,
                _graph_session(world) as graph,
            ):
                graph_url = world.sandbox.graph_url
                day = world.sandbox.clock.now() + timedelta(days=2)
                for n in range(warmup + rounds):
                    organizer = mailboxes[n % len(mailboxes)]
                    attendee = mailboxes[(n + 1) % len(mailboxes)]
                    meeting = _meeting(organizer, attendee, day + timedelta(days=n % 20))
                    body = json.dumps(meeting).encode()
                    exchanges.take()
                    results = {"api_create": _timed(_api, api, "POST", url, data=body)}
                    made = exchanges.take()
                    results["direct_create"] = _timed(_replay, graph, graph_url, made, "")
                    exchanges.take()
                    query = {"id": meeting["id"]}
                    results["api_read"] = _timed(_api, api, "GET", url, params=query)
                    read_made = exchanges.take()
                    results["direct_read"] = _timed(
                        _replay, graph, graph_url, read_made, read_query
                    )
                    exchanges.take()
                    if n < warmup:
                        continue
                    for kind, millis in results.items():
                        timings[kind].millis.append(millis)
                    timings["api_create"].graph_requests.append(len(made))
                    timings["api_read"].graph_requests.append(len(read_made))
        finally:
            stop_observing()
    return timings


def run(rounds: int, latency: float) -> tuple[list[Row], list[Target], dict[str, Timings]]:
    timings = measure(rounds, latency)
    rows: list[Row] = []
    targets: list[Target] = []
    for kind in ("create", "read"):
        api, direct = timings[f"api_{kind}"], timings[f"direct_{kind}"]
        added = api.median() - direct.median()
        per_call = statistics.mean(api.graph_requests)
        rows += [
            Row(f"{kind}: median (ms)", api.median(), None, direct.median(),
                "bound: the same Graph request(s) made directly"),
            Row(f"{kind}: p90 (ms)", api.p90(), None, direct.p90()),
            Row(f"{kind}: added at the median (ms)", added, None, ADDED_MS_TARGET,
                "bound: the target"),
            Row(f"{kind}: Graph requests per API call", per_call, None, 1),
        ]  # fmt: skip
        targets.append(
            Target(
                f"API {kind}: <= {ADDED_MS_TARGET:g} ms added at the median",
                added <= ADDED_MS_TARGET,
                f"{added:.1f} ms ({api.median():.1f} ms vs {direct.median():.1f} ms direct; "
                f"p90 {api.p90():.1f} vs {direct.p90():.1f})",
            )
        )
    return rows, targets, timings


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("bench.api_latency", __doc__)
    parser.set_defaults(latency=0.0)
    parser.add_argument("--rounds", type=int, default=200, help="creates and reads of each side")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 30
    params = {"rounds": args.rounds, "latency_s": args.latency}
    header("Benchmark 6: Scheduler API latency over a direct Graph call", params)
    rows, targets, _ = run(args.rounds, args.latency)
    print_table("Scheduler API latency (ms)", rows)
    print_targets(targets)
    save(args.json, "api_latency", params, rows, targets)


if __name__ == "__main__":
    main()
