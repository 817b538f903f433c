"""Sending Graph requests, the base of GraphClient: Graph's rules of politeness in one place.

Every call: a timeout, the caller's correlation id as `client-request-id`, at
most N requests in flight per mailbox, `Retry-After` honoured on 429/503/504
within a bounded budget, one token refresh after a 401, and one mapping of
failures to `GraphError` (see `errors`). $batch envelopes of 20 and paging by
`@odata.nextLink` live here too; what each call asks for lives in events,
calendar_reads and mailbox.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from syncd.config import GraphTuning
from syncd.domain import ErrorCode, SyncdError
from syncd.graph import odata
from syncd.graph.auth import TokenProvider
from syncd.graph.batch import (
    FAILED_DEPENDENCY,
    MAX_REQUESTS_PER_BATCH,
    GraphRequest,
    GraphResponse,
    answers_or_retry,
    envelope,
)
from syncd.graph.correlation import (
    CorrelationLog,
    MappingNotes,
    client_request_id,
    correlation_log,
    current_correlation_id,
    stamp_context,
)
from syncd.graph.counter import CallCounter
from syncd.graph.errors import GraphError, graph_error, transport_error
from syncd.graph.limits import MailboxLimiter
from syncd.graph.retry import RETRY_STATUSES, RetryBudget, parse_retry_after
from syncd.metrics.http_hooks import response_json, sending_json

_MAX_PAGES = 50
#: Failures where the request may never have left, or may have been answered and lost;
#: other RequestExceptions (bad URL, TLS) would fail the same way again.
_RETRYABLE_TRANSPORT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass
class Call:
    """One public client call across its HTTP attempts."""

    operation: str
    request_id: str
    log: CorrelationLog
    budget: RetryBudget
    token_refreshed: bool = False
    #: An attempt may have been carried out by Graph without us seeing the answer.
    maybe_applied: bool = False
    #: The wait Graph (or the backoff) asked for when the budget ran out.
    retry_after: float | None = None


@dataclass(frozen=True)
class Wire:
    """One HTTP request as sent: a single Graph request or a $batch envelope."""

    method: str
    url: str
    action: str  # what a person would call it, for messages: "update event X"
    mailbox: str | None
    demand: Mapping[str | None, int]  # mailbox slots it holds while in flight
    graph_methods: tuple[str, ...]  # the Graph requests it carries (a batch: several)
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method} {urlsplit(self.url).path}"


class GraphTransport:
    """One tenant's Graph connection: sends requests, waits, retries, maps failures.
    Thread-safe: one instance serves all threads of a process."""

    def __init__(
        self,
        *,
        graph_url: str,
        tokens: TokenProvider,
        session: requests.Session,
        tuning: GraphTuning = GraphTuning(),  # noqa: B008 - frozen pydantic model, safe to share
        sleep: Callable[[float], None] = time.sleep,
        log: logging.Logger | None = None,
        in_flight_per_mailbox: int | None = None,
    ) -> None:
        """`in_flight_per_mailbox`: this process's share of each mailbox's concurrent
        requests (config.GraphTuning.in_flight_for); none = the whole allowance."""
        self._base = graph_url.rstrip("/")
        self._tokens = tokens
        self._session = session
        self._tuning = tuning
        self._sleep = sleep
        self._log = log or logging.getLogger("syncd.graph")
        stamp_context(self._log)
        self._timeout = (tuning.connect_timeout_seconds, tuning.read_timeout_seconds)
        self._limiter = MailboxLimiter(in_flight_per_mailbox or tuning.max_in_flight_per_mailbox)
        self._notes = MappingNotes()
        self.counter = CallCounter()

    def in_flight_per_mailbox(self) -> int:
        """This process's share of each mailbox's concurrent requests (what `$batch`
        groupings must keep to, syncd.graph.batch_plan)."""
        return self._limiter.limit

    def close(self) -> None:
        """Close pooled connections (a server waits for idle keep-alive ones)."""
        self._session.close()

    def batch(
        self, requests: Sequence[GraphRequest], *, correlation_id: str | None = None
    ) -> list[GraphResponse]:
        """Send `requests` as JSON $batch calls of 20; answers in input order.

        Inner 429/503/504 are sent again (only those) after the longest Retry-After,
        within the retry budget; what is still refused comes back as it was answered.
        """
        call = self._begin("batch", correlation_id)
        return self._run_batch(call, list(requests))

    # ------------------------------------------------------------- internals

    def _begin(self, operation: str, correlation_id: str | None) -> Call:
        self.counter.operation(operation)
        correlation_id = current_correlation_id(correlation_id)
        request_id = client_request_id(correlation_id)
        return Call(
            operation=operation,
            request_id=request_id,
            log=correlation_log(self._log, correlation_id, request_id, self._notes),
            budget=RetryBudget(self._tuning.max_retries, self._tuning.max_retry_wait_seconds),
        )

    def _send(
        self,
        call: Call,
        method: str,
        path: str,
        *,
        mailbox: str,
        action: str,
        body: Any = None,
        prefer_utc: bool = False,
    ) -> GraphResponse:
        """One request outside $batch; `path` is relative to graph_url, or a link under it."""
        request = GraphRequest(
            method,
            path.removeprefix(self._base),
            body=body,
            headers={"Prefer": odata.PREFER_UTC} if prefer_utc else {},
            mailbox=mailbox,
        )
        return self._one(call, request, action=action)

    def _send_all(
        self,
        call: Call,
        requests_: Sequence[GraphRequest],
        *,
        action: str,
        side_by_side: int = 1,
    ) -> list[GraphResponse]:
        """One request on its own (no $batch envelope needed), several through $batch
        (up to `side_by_side` envelopes in flight at once)."""
        if len(requests_) == 1:
            return [self._one(call, requests_[0], action=action)]
        return self._run_batch(call, requests_, side_by_side=side_by_side)

    def _one(self, call: Call, request: GraphRequest, *, action: str) -> GraphResponse:
        """Send `request` by itself, holding one of its mailbox's slots while in flight."""
        wire = Wire(
            request.method,
            self._base + request.url,
            action=action,
            mailbox=request.mailbox,
            demand={request.mailbox: 1},
            graph_methods=(request.method,),
            body=request.body,
            headers=request.headers,
        )
        return self._exchange(call, wire)

    def _exchange(self, call: Call, wire: Wire) -> GraphResponse:
        """One HTTP exchange, repeated while Graph says "later" and the budget allows."""
        force_refresh = False
        while True:
            try:
                answer = self._attempt(call, wire, force_refresh=force_refresh)
            except _RETRYABLE_TRANSPORT as exc:
                if not isinstance(exc, requests.ConnectTimeout):
                    call.maybe_applied = True  # it may have reached Graph before failing
                retry = not isinstance(exc, requests.exceptions.SSLError)
                if not (retry and self._wait(call, None, f"{wire.label}: {type(exc).__name__}")):
                    raise self._transport_error(call, wire, exc) from None
                force_refresh = False
                continue
            except requests.RequestException as exc:  # a bad URL and the like: never retried
                call.retry_after = None
                raise self._transport_error(call, wire, exc) from None
            force_refresh = False
            if answer.status == 401 and not call.token_refreshed:
                # An expired or revoked token: fetch a new one once, then try once more.
                call.token_refreshed = force_refresh = True
                self.counter.token_refresh()
                call.log.info("Graph answered 401 (%s); retrying once with a new token", wire.label)
                continue
            if answer.status in RETRY_STATUSES and self._wait_after(call, wire, answer):
                continue
            return answer

    def _attempt(self, call: Call, wire: Wire, *, force_refresh: bool) -> GraphResponse:
        """Send once; requests' exceptions propagate."""
        token = self._tokens.token(force_refresh=force_refresh)
        headers = {
            **wire.headers,
            "Authorization": f"Bearer {token}",
            "client-request-id": call.request_id,
            "return-client-request-id": "true",
        }
        started = time.monotonic()
        # The slots are held only while the request is in flight, never while waiting.
        with self._limiter.hold(wire.demand), sending_json(wire.body):
            raw = self._session.request(
                wire.method, wire.url, json=wire.body, headers=headers, timeout=self._timeout
            )
        self.counter.round_trip(wire.graph_methods)
        answer = _response(raw)
        call.log.debug(
            "%s -> %d in %.0f ms (request-id %s)",
            wire.label,
            answer.status,
            (time.monotonic() - started) * 1000,
            answer.headers.get("request-id", "-"),
        )
        return answer

    def _wait_after(self, call: Call, wire: Wire, answer: GraphResponse) -> bool:
        """Wait as a 429/503/504 asks, if the budget allows."""
        if answer.status == 429:
            self.counter.throttled()
        if answer.status == 504:  # the gateway gave up; Graph may still have done it
            call.maybe_applied = True
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        return self._wait(call, retry_after, f"{wire.label}: HTTP {answer.status}")

    def _transport_error(
        self, call: Call, wire: Wire, exc: requests.RequestException
    ) -> SyncdError:
        error = transport_error(
            exc,
            action=wire.action,
            mailbox=wire.mailbox,
            timeout=self._timeout,
            retry_after=call.retry_after,
        )
        # DEBUG: the caller reports the failure (once, at WARNING) where it knows what it was for.
        call.log.debug("%s failed: %s (%s)", call.operation, error.code, error.message)
        return error

    def _wait(self, call: Call, retry_after: float | None, reason: str) -> bool:
        """Sleep before the next attempt if the budget allows; False when it is spent."""
        allowed, delay = call.budget.next_wait(retry_after)
        call.retry_after = delay
        if not allowed:  # DEBUG: the failure that follows is reported by the caller
            call.log.debug(
                "%s: %s; giving up after %d retries and %.1f s of waiting (next wait %.1f s)",
                call.operation,
                reason,
                call.budget.retries,
                call.budget.waited,
                delay,
            )
            return False
        call.log.info(
            "%s: %s; retry %d of %d in %.2f s",
            call.operation,
            reason,
            call.budget.retries + 1,
            call.budget.max_retries,
            delay,
        )
        self._sleep(delay)
        call.budget.spend(delay)
        self.counter.retry(delay)
        return True

    def _run_batch(
        self, call: Call, requests_: Sequence[GraphRequest], *, side_by_side: int = 1
    ) -> list[GraphResponse]:
        """Every request through $batch envelopes of 20, refused ones again; in input order.

        `side_by_side` > 1 sends that many envelopes at once (each still holds its
        mailboxes' slots while in flight, so the per-mailbox limit stands): Graph runs at
        most 4 requests of one envelope at a time, so envelopes one after another cost
        a latency per 4 requests.
        """
        results: dict[int, GraphResponse] = {}
        pending = list(range(len(requests_)))
        while pending:
            chunks = [
                pending[first : first + MAX_REQUESTS_PER_BATCH]
                for first in range(0, len(pending), MAX_REQUESTS_PER_BATCH)
            ]
            for positions, replies in zip(
                chunks, self._send_batches(call, requests_, chunks, side_by_side), strict=True
            ):
                results.update(zip(positions, replies, strict=True))
            refused = [i for i in pending if _send_again(results[i])]
            self.counter.throttled(sum(1 for i in refused if results[i].status == 429))
            # "retry all the failed requests in a new batch after the longest retry-after value"
            # https://learn.microsoft.com/graph/throttling#throttling-and-batching
            waits = [parse_retry_after(results[i].headers.get("retry-after")) for i in refused]
            longest = max((w for w in waits if w is not None), default=None)
            reason = f"{len(refused)} request(s) of a $batch not carried out or refused for now"
            if not refused or not self._wait(call, longest, reason):
                break
            pending = refused
        return [results[i] for i in range(len(requests_))]

    def _send_batches(
        self,
        call: Call,
        requests_: Sequence[GraphRequest],
        chunks: Sequence[Sequence[int]],
        side_by_side: int,
    ) -> list[list[GraphResponse]]:
        """The answers of each chunk's envelope; the first failure raised once all ended."""
        if side_by_side <= 1 or len(chunks) == 1:
            return [self._send_batch(call, [requests_[i] for i in c]) for c in chunks]
        workers = min(side_by_side, len(chunks))
        with ThreadPoolExecutor(workers, thread_name_prefix="graph-batch") as pool:
            # Each thread runs in a copy of the caller's context (its correlation id).
            futures = [
                pool.submit(
                    contextvars.copy_context().run,
                    self._send_batch,
                    call,
                    [requests_[i] for i in c],
                )
                for c in chunks
            ]
            wait(futures)
        return [future.result() for future in futures]

    def _send_batch(self, call: Call, chunk: Sequence[GraphRequest]) -> list[GraphResponse]:
        """One $batch round trip for <= 20 requests; holds slots in each mailbox it touches.

        Graph runs up to 4 of a batch's requests at once, each counted against its
        mailbox, so a batch takes min(its requests there, limit) slots per mailbox.
        """
        action = f"send a $batch of {len(chunk)} request(s)"
        wire = Wire(
            "POST",
            self._base + "/$batch",
            action=action,
            mailbox=None,
            demand=dict(Counter(r.mailbox.lower() for r in chunk if r.mailbox)),
            graph_methods=tuple(r.method for r in chunk),
            body=envelope(chunk),
        )
        answer = self._exchange(call, wire)
        if answer.status == FAILED_DEPENDENCY:
            # The batch failed whole, as Graph does when a request in it was throttled
            # (https://learn.microsoft.com/graph/throttling#throttling-and-batching): each
            # request keeps the answer the envelope carries, the others are sent again.
            call.log.info("%s: the $batch failed whole (HTTP 424)", wire.label)
        elif not answer.ok:
            raise self._error(call, answer, action=action, mailbox=None)
        return answers_or_retry(answer.body, len(chunk), answer.headers)

    def _list(self, call: Call, path: str, *, mailbox: str, action: str) -> list[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink` (https://learn.microsoft.com/graph/paging)."""
        url = path
        items: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            answer = self._send(call, "GET", url, mailbox=mailbox, prefer_utc=True, action=action)
            body = self._body(
                call, answer, action=action, mailbox=mailbox, not_found=ErrorCode.MAILBOX_NOT_FOUND
            )
            items.extend(v for v in body.get("value", []) if isinstance(v, dict))
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return items
            url = self._own_link(str(next_link))
        raise GraphError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Graph kept paging after {_MAX_PAGES} pages while trying to {action} "
            f"in mailbox {mailbox}.",
        )

    def _own_link(self, link: str) -> str:
        # The token goes wherever the link points: only follow links under graph_url.
        if not link.startswith(self._base + "/"):
            raise GraphError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Graph returned a next-page link outside {self._base}; not following it.",
            )
        return link

    def _done_or_gone(
        self, call: Call, answer: GraphResponse, *, action: str, mailbox: str
    ) -> None:
        if answer.ok:
            return
        if answer.status == 404 and call.maybe_applied:
            # An earlier attempt went through but its answer was lost: already done.
            call.log.info("%s: event already gone after a retried attempt", action)
            return
        raise self._error(call, answer, action=action, mailbox=mailbox)

    def _body(
        self,
        call: Call,
        answer: GraphResponse,
        *,
        action: str,
        mailbox: str | None,
        not_found: ErrorCode = ErrorCode.MEETING_NOT_FOUND,
    ) -> Any:
        if not answer.ok:
            raise self._error(call, answer, action=action, mailbox=mailbox, not_found=not_found)
        return answer.body

    def _error(
        self,
        call: Call,
        answer: GraphResponse,
        *,
        action: str,
        mailbox: str | None,
        not_found: ErrorCode = ErrorCode.MEETING_NOT_FOUND,
    ) -> SyncdError:
        error = graph_error(
            answer.status,
            answer.body,
            action=action,
            mailbox=mailbox,
            retry_after=call.retry_after if answer.status in RETRY_STATUSES else None,
            not_found=not_found,
            request_id=answer.headers.get("request-id"),
        )
        # The caller reports a failure once, at WARNING, where it knows what the call was
        # for (a record's sync, an API request, a job). A denial stays a warning here too: it
        # is the app's permissions, which an API caller's 403 does not show the operator.
        call.log.log(
            logging.WARNING if error.code is ErrorCode.ACCESS_DENIED else logging.DEBUG,
            "%s failed: %s (%s)",
            call.operation,
            error.code,
            error.message,
        )
        return error


def _response(raw: requests.Response) -> GraphResponse:
    headers = {k.lower(): v for k, v in raw.headers.items()}
    body: Any = None
    if raw.content:
        if "json" in headers.get("content-type", ""):
            try:
                body = response_json(raw)  # decoded once with the metrics hook
            except ValueError:
                body = raw.text
        else:
            body = raw.text
    return GraphResponse(raw.status_code, body, headers)


def _send_again(answer: GraphResponse) -> bool:
    """Whether a request of a $batch is sent again: refused for now (429/503/504), or not
    done because the batch failed whole or had no answer for it (424)."""
    return answer.status in RETRY_STATUSES or answer.status == FAILED_DEPENDENCY
