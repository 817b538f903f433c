"""The Salesforce client: SOQL, getUpdated / getDeleted and write-back, politely.

Every call: lazy login, one new login after INVALID_SESSION_ID (then one retry),
waits on REQUEST_LIMIT_EXCEEDED within a budget, a few retries of 5xx and broken
connections, a timeout on every request (the session's adapter), one mapping of
failures to `SyncdError` (see `errors`) and a record of API use (see `usage`).
Thread-safe: one client serves all threads of a process.
REST resources: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce.exceptions import (
    SalesforceError as LibraryError,
)
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from syncd.config import DEFAULT_API_VERSION, SalesforceLogin
from syncd.domain import ErrorCode, SyncdError
from syncd.salesforce import composite, errors
from syncd.salesforce.backoff import Backoff, limit_backoff, transient_backoff
from syncd.salesforce.composite import RecordResult, check_record_id, check_sobject
from syncd.salesforce.direct import DirectApi
from syncd.salesforce.errors import SalesforceError
from syncd.salesforce.http import build_session, enforces_timeout
from syncd.salesforce.login import Clock, Login, SalesforceSession, login_from_config, utc_now
from syncd.salesforce.replication import (
    DeletedResult,
    check_window,
    deleted_result,
    updated_result,
)
from syncd.salesforce.usage import ApiUsage

__all__ = ["SalesforceClient", "client_from_config"]

T = TypeVar("T")

#: Failures where the request may not have been answered; retrying is safe because
#: every call syncd makes is a read or an idempotent PATCH of the same values.
_RETRYABLE_TRANSPORT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.JSONDecodeError,  # a 200 with an HTML maintenance page
)


class SalesforceClient:
    """One org's REST API through simple-salesforce in direct mode, with syncd's own login."""

    def __init__(
        self,
        *,
        login: Login,
        session: requests.Session,
        api_version: str = DEFAULT_API_VERSION,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utc_now,
        max_limit_wait_seconds: float = 900,
        max_retries: int = 3,
        log: logging.Logger | None = None,
    ) -> None:
        if not enforces_timeout(session):
            raise ValueError(
                "SalesforceClient needs a session whose requests time out: build it with "
                "syncd.salesforce.build_session() (simple-salesforce sets no timeout itself)"
            )
        self._login = login
        self._http = session
        self._version = api_version
        self._sleep = sleep
        self._clock = clock
        self._max_limit_wait = max_limit_wait_seconds
        self._max_retries = max_retries
        self._log = log or logging.getLogger("syncd.salesforce")
        self._lock = threading.Lock()
        self._current: SalesforceSession | None = None
        self._instance = "(not yet logged in)"
        self._logged_in_before = False
        #: describe results of the current session (sObject name -> describe body)
        self._described: dict[str, dict[str, Any]] = {}
        self.usage = ApiUsage()

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    @property
    def instance_url(self) -> str | None:
        """The org's instance URL once logged in."""
        with self._lock:
            return self._current.instance_url if self._current else None

    # -------------------------------------------------------------- queries

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record `soql` selects, following nextRecordsUrl page by page as the
        iterator is consumed (nothing is sent before the first record is asked for).
        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm
        """
        return self._records(soql, include_deleted=False)

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]:
        """Like `query`, including deleted and archived records (the queryAll resource)."""
        return self._records(soql, include_deleted=True)

    def _records(self, soql: str, *, include_deleted: bool) -> Iterator[dict[str, Any]]:
        resource = "queryAll" if include_deleted else "query"
        action = f"run {resource} {_abbreviate(soql)}"
        page = self._call(
            resource, action, lambda api: api.sf.query(soql, include_deleted=include_deleted)
        )
        while True:
            yield from page.get("records") or []
            if page.get("done", True):
                return
            page = self._next_page(page, action)

    def _next_page(self, page: Mapping[str, Any], action: str) -> Any:
        locator = page.get("nextRecordsUrl")
        # simple-salesforce prefixes https://{instance}; only a path may follow it, or
        # a crafted value ("@host/...") would send the token to another host.
        if not isinstance(locator, str) or not locator.startswith("/services/"):
            raise SalesforceError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Salesforce {self._instance} said more records follow but gave no usable "
                f"nextRecordsUrl ({locator!r}) while trying to {action}.",
                retry_after=30.0,
            )
        return self._call(
            "queryMore", action, lambda api: api.sf.query_more(locator, identifier_is_url=True)
        )

    # --------------------------------------------------------- replication

    def updated(self, sobject: str, start: datetime, end: datetime) -> tuple[list[str], datetime]:
        """Ids of `sobject` records added or changed in [start, end] (aware datetimes; seconds
        are ignored), and latestDateCovered: start the next window there.
        Raises `WindowMissed` when start is more than 30 days back.
        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm
        """
        check_sobject(sobject)
        start, end = check_window("updated", sobject, start, end, self._clock())
        body = self._call(
            "updated",
            f"list {sobject} records updated {_span(start, end)}",
            lambda api: api.sobject(sobject).updated(start, end),
        )
        return updated_result(body, sobject=sobject, instance=self._instance)

    def deleted(self, sobject: str, start: datetime, end: datetime) -> DeletedResult:
        """`sobject` records deleted in [start, end], with earliestDateAvailable (a later value
        than the caller's watermark means deletions were purged unseen: full resync) and
        latestDateCovered. Raises `WindowMissed` when start is more than 15 days back.
        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm
        """
        check_sobject(sobject)
        start, end = check_window("deleted", sobject, start, end, self._clock())
        body = self._call(
            "deleted",
            f"list {sobject} records deleted {_span(start, end)}",
            lambda api: api.sobject(sobject).deleted(start, end),
        )
        return deleted_result(body, sobject=sobject, instance=self._instance)

    # ------------------------------------------------------------ describe

    def describe(self, sobject: str) -> dict[str, Any]:
        """The sObject Describe of `sobject` (its fields as this org and API version show
        them), read once per session: org settings such as Shared Activities decide which
        fields exist, and a new login reads them again.
        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
        """
        check_sobject(sobject)
        with self._lock:
            known = self._described.get(sobject)
        if known is not None:
            return known
        body = self._call(
            "describe", f"describe {sobject}", lambda api: api.sobject(sobject).describe()
        )
        if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
            raise SalesforceError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Salesforce {self._instance} answered the describe of {sobject} without "
                "a fields list. Retry later.",
                retry_after=30.0,
            )
        with self._lock:
            self._described[sobject] = body
        return body

    # -------------------------------------------------------------- writes

    def update_records(
        self, sobject: str, records: Sequence[Mapping[str, Any]]
    ) -> list[RecordResult]:
        """Update `records` ({"Id" or "id": ..., field: value}) in sObject Collections of 200,
        allOrNone=false. One result per record, in input order; a record Salesforce refuses
        is a result with success=False, not an exception. A failed request raises, and
        earlier chunks stay written (writing the same values again is harmless).
        """
        check_sobject(sobject)
        prepared = [composite.payload(sobject, record) for record in records]
        out: list[RecordResult] = []
        for chunk in composite.chunks(prepared):
            data = json.dumps(composite.body(chunk))
            answer = self._call(
                "composite",
                f"update {len(chunk)} {sobject} records (sObject Collections)",
                functools.partial(_patch_collection, data=data),
            )
            out.extend(composite.results(chunk, answer, instance=self._instance))
        return out

    def update_record(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """PATCH one record's `fields` (sObject Rows, 204 No Content)."""
        check_sobject(sobject)
        check_record_id(record_id)
        self._call(
            "sobject",
            f"update {sobject} {record_id}",
            lambda api: api.sobject(sobject).update(record_id, dict(fields)),
        )

    def delete_record(self, sobject: str, record_id: str) -> None:
        """DELETE one record (sObject Rows, 204 No Content); the record goes to the
        Recycle Bin: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_delete_record.htm"""
        check_sobject(sobject)
        check_record_id(record_id)
        self._call(
            "sobject",
            f"delete {sobject} {record_id}",
            lambda api: api.sobject(sobject).delete(record_id),
        )

    # ----------------------------------------------------------- internals

    def _call(self, resource: str, action: str, operation: Callable[[DirectApi], T]) -> T:
        """Run `operation` against the current session until it succeeds or must fail."""
        transient = transient_backoff(self._max_retries)
        limit = limit_backoff(self._max_limit_wait)
        fresh_login = False
        while True:
            session: SalesforceSession | None = None
            try:
                session = self._session()
                api = DirectApi(session, self._http, self._version)
                self.usage.call(resource)
                started = time.monotonic()
                result = operation(api)
            except SalesforceExpiredSession as exc:
                if fresh_login:
                    raise self._failed(errors.session_rejected, exc, action) from None
                # INVALID_SESSION_ID: the token expired or was revoked. Log in again, once.
                # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
                self._log.info(
                    "%s: session no longer valid (%s); logging in again",
                    action,
                    errors.salesforce_says(exc),
                )
                self._invalidate(session)
                fresh_login = True
                continue
            except SalesforceRefusedRequest as exc:
                if not errors.is_limit_exceeded(exc):
                    raise self._failed(errors.refused, exc, action) from None
                self.usage.limit_refused()
                self._wait_for_allowance(limit, exc, action)
                continue
            except SalesforceGeneralError as exc:
                if exc.status < 500:
                    raise self._failed(errors.refused, exc, action) from None
                if not self._pause(transient, action, f"HTTP {exc.status}"):
                    raise self._logged(
                        errors.unavailable(
                            exc, action=action, instance=self._instance, retries=transient.waits
                        )
                    ) from None
                continue
            except LibraryError as exc:  # 300, 400, 404: the request itself is wrong
                raise self._failed(errors.refused, exc, action) from None
            except _RETRYABLE_TRANSPORT as exc:
                if not self._pause(transient, action, type(exc).__name__):
                    raise self._logged(
                        errors.unreachable(
                            exc, action=action, instance=self._instance, retries=transient.waits
                        )
                    ) from None
                continue
            except requests.RequestException as exc:  # TLS, bad URL: the same again next time
                raise self._logged(
                    errors.unreachable(exc, action=action, instance=self._instance, retries=0)
                ) from None
            except SyncdError as exc:  # from the login
                if exc.code != ErrorCode.UPSTREAM_UNAVAILABLE or not self._pause(
                    transient, action, "login failed"
                ):
                    raise self._logged(exc) from None
                continue
            self.usage.limit_info(api.api_usage())
            self._log.debug(
                "%s: %s done in %.0f ms", action, resource, (time.monotonic() - started) * 1000
            )
            return result

    def _session(self) -> SalesforceSession:
        """The current session; logs in first when there is none (one thread logs in,
        the others wait for its session)."""
        with self._lock:
            if self._current is None:
                self._current = self._login.login()
                self._described.clear()
                self._instance = urlsplit(self._current.instance_url).netloc
                self.usage.login(again=self._logged_in_before)
                self._logged_in_before = True
            return self._current

    def _invalidate(self, stale: SalesforceSession | None) -> None:
        """Forget `stale` unless another thread already replaced it."""
        with self._lock:
            if self._current is stale:
                self._current = None

    def _pause(self, backoff: Backoff, action: str, reason: str) -> bool:
        """Sleep before retrying a transient failure; False when the retries are spent."""
        delay = backoff.next_delay()
        if delay is None:
            return False
        self._log.info(
            "%s: %s; retry %d of %d in %.1f s",
            action,
            reason,
            backoff.waits + 1,
            backoff.max_waits or 0,
            delay,
        )
        self._sleep(delay)
        backoff.spend(delay)
        self.usage.retry(delay)
        return True

    def _wait_for_allowance(self, limit: Backoff, exc: LibraryError, action: str) -> None:
        """Wait for the rolling 24-hour allowance to free up, or raise THROTTLED."""
        delay = limit.next_delay()
        if delay is None:
            raise self._logged(
                errors.limit_exhausted(
                    exc,
                    action=action,
                    instance=self._instance,
                    waited=limit.waited,
                    retry_after=limit.nominal(),
                )
            ) from None
        self._log.warning(
            "%s: API request limit exceeded (%s of %s used); waiting %.0f s (%.0f s so far)",
            action,
            self.usage.used,
            self.usage.max,
            delay,
            limit.waited,
        )
        self._sleep(delay)
        limit.spend(delay)
        self.usage.limit_wait(delay)

    def _failed(
        self, build: Callable[..., SyncdError], exc: LibraryError, action: str
    ) -> SyncdError:
        return self._logged(build(exc, action=action, instance=self._instance))

    def _logged(self, error: SyncdError) -> SyncdError:
        # DEBUG: whoever gets the error reports it once, at WARNING (a job, the write-back).
        self._log.debug("Salesforce call failed: %s (%s)", error.code, error.message)
        return error


def client_from_config(
    cfg: SalesforceLogin, *, session: requests.Session | None = None, **kwargs: Any
) -> SalesforceClient:
    """A client for a tenant's `[salesforce.login]` (reads its credential now)."""
    http = session or build_session(cfg.ca_file)
    return SalesforceClient(
        login=login_from_config(cfg, http),
        session=http,
        api_version=cfg.api_version,
        **kwargs,
    )


def _span(start: datetime, end: datetime) -> str:
    return f"between {start:%Y-%m-%dT%H:%M}Z and {end:%Y-%m-%dT%H:%M}Z"


def _abbreviate(soql: str, limit: int = 160) -> str:
    flat = " ".join(soql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _patch_collection(api: DirectApi, *, data: str) -> Any:
    """One sObject Collections update request (its body already JSON)."""
    return api.sf.restful("composite/sobjects", method="PATCH", data=data)
