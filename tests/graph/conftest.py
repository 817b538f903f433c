"""Fixtures for the Graph client tests: a static token source, a recording sleep and a
scripted local HTTP(S) server for behaviour no sandbox can be made to show on demand."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from syncd.config import GraphTuning
from syncd.graph import GraphClient, build_session


class StaticTokens:
    """A TokenProvider that hands out "token-1", then "token-2" after a forced refresh..."""

    def __init__(self) -> None:
        self.generation = 1
        self.forced = 0

    def token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.forced += 1
            self.generation += 1
        return f"token-{self.generation}"


class RecordingSleep:
    """Stands in for time.sleep: records each wait, waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class Seen:
    """One request as the scripted server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hold the request (to make requests overlap)
    hang: bool = False  # never answer (until the server stops)


Handler = Callable[[Seen], Reply]
_MAILBOX = re.compile(r"/users/([^/?]+)")


class ScriptedServer:
    """A threaded server on 127.0.0.1 that answers each request with `handler(seen)`.

    It records every request and, per mailbox in the path, the highest number of
    requests in flight at once. A $batch counts min(k, 4) requests for a mailbox
    named k times inside it, as Graph runs up to 4 of a batch's requests at once.
    """

    def __init__(self, handler: Handler, *, tls: trustme.CA | None = None) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        self.max_in_flight: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self._server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.issue_cert("127.0.0.1").configure_cert(context)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.origin = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self.graph_url = self.origin + "/v1.0"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        return [s.path for s in self.seen if method is None or s.method == method]

    def _demand(self, seen: Seen) -> dict[str, int]:
        if seen.path.endswith("/$batch") and isinstance(seen.body, dict):
            counts: dict[str, int] = {}
            for inner in seen.body.get("requests", []):
                match = _MAILBOX.search(inner.get("url", ""))
                if match:
                    key = match.group(1).lower()
                    counts[key] = min(counts.get(key, 0) + 1, 4)
            return counts
        match = _MAILBOX.search(seen.path)
        return {match.group(1).lower(): 1} if match else {}

    def _enter(self, demand: dict[str, int]) -> None:
        with self._lock:
            for key, n in demand.items():
                self._in_flight[key] = self._in_flight.get(key, 0) + n
                self.max_in_flight[key] = max(self.max_in_flight.get(key, 0), self._in_flight[key])

    def _leave(self, demand: dict[str, int]) -> None:
        with self._lock:
            for key, n in demand.items():
                self._in_flight[key] -= n

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = raw.decode()  # a form post (the identity endpoint)
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(self.command, self.path, headers, body)
                with owner._lock:
                    owner.seen.append(seen)
                demand = owner._demand(seen)
                owner._enter(demand)
                try:
                    reply = owner.handler(seen)
                    if reply.hang:
                        owner._stop.wait(30)
                        return
                    if reply.delay:
                        time.sleep(reply.delay)
                finally:
                    owner._leave(demand)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        return _Handler


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    """Start scripted servers: `serve(handler)` or `serve(handler, tls=ca)`."""
    servers: list[ScriptedServer] = []

    def _start(handler: Handler, *, tls: trustme.CA | None = None) -> ScriptedServer:
        server = ScriptedServer(handler, tls=tls).start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def tokens() -> StaticTokens:
    return StaticTokens()


@pytest.fixture
def make_client(fake_sleep: RecordingSleep, tokens: StaticTokens) -> Callable[..., GraphClient]:
    """`make_client(graph_url, **tuning)`: a client with the static tokens and recording sleep."""

    def _make(graph_url: str, *, ca_file: Path | None = None, **tuning: Any) -> GraphClient:
        values = {"connect_timeout_seconds": 2.0, "read_timeout_seconds": 5.0, **tuning}
        return GraphClient(
            graph_url=graph_url,
            tokens=tokens,
            session=build_session(ca_file),
            tuning=GraphTuning(**values),
            sleep=fake_sleep,
        )

    return _make
