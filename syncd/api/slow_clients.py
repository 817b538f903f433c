"""Clients that hold connections without sending a request: bounded, in the server itself.

uvicorn (checked in 0.55, with h11) has no timeout for reading a request head: a
connection that opened and then sends a byte every few seconds is kept for as long as it
does, and hundreds of them hold as many sockets and buffers. Its `limit_concurrency`
does not help: it counts those connections too, and answers 503 to real requests while
they last. So the Scheduler API's HTTP protocol is uvicorn's h11 protocol plus:

- a header timeout: a connection that has not sent a complete request head within
  `header_timeout_seconds` of opening (or of the end of its previous response) is
  closed; bytes that trickle in do not extend it;
- a connection cap: past `max_connections` open connections, a new one pushes out the
  connection that has waited longest for its request head (an idle keep-alive one, or
  a slow sender), or is closed itself when every other one is busy with a request.

uvicorn's keep-alive timeout (`keep_alive_seconds`) and h11's limit on the size of a
request head (`max_header_bytes`, answered 400 beyond) apply as well.
https://www.uvicorn.org/settings/#timeouts, https://h11.readthedocs.io/en/latest/api.html
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from syncd.config import ApiServerConfig

log = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a cap on open connections."""

    header_timeout: float = 10.0
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        #: since when this connection waits for a request head (None: it has one)
        self.waiting_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()
        if len(self.connections) > self.max_connections:
            self._shed()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_head():
            self._await_head()  # keeps the running timer: trickling bytes buy no time
        else:
            self._head_arrived()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._waiting_for_head():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        idle = self.cycle is None or self.cycle.response_complete
        return idle and self.conn.their_state is h11.IDLE

    def _await_head(self) -> None:
        if self._head_timer is None:
            self.waiting_since = time.monotonic()
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_late)

    def _head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self.waiting_since = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing() and self._waiting_for_head():
            log.debug(
                "closed a connection from %s: no request head within %s s",
                self.client,
                self.header_timeout,
            )
            self.transport.close()

    def _shed(self) -> None:
        """Make room: close the connection waiting longest for its head, else this one."""
        waiting = [
            c
            for c in list(self.connections)
            if isinstance(c, GuardedH11Protocol)
            and c is not self
            and c.waiting_since is not None
            and not c.transport.is_closing()
        ]
        victim = min(waiting, key=lambda c: c.waiting_since or 0.0) if waiting else self
        log.debug("over %s connections: closed one from %s", self.max_connections, victim.client)
        victim.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class with these limits (uvicorn instantiates it per connection)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )


def server_limits(settings: ApiServerConfig) -> dict[str, Any]:
    """uvicorn.Config options that bound what slow or idle clients can hold."""
    return {
        "http": guarded_protocol(settings.header_timeout_seconds, settings.max_connections),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
