"""The `requests.Session` for Salesforce: syncd.http's session plus a default timeout.

simple-salesforce passes no timeout to `requests` on most calls (SFType.updated,
.deleted, .update take no keyword arguments), so a stalled connection would
hang a sync forever. The timeout therefore lives in the transport adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from syncd.http import POOL_MAXSIZE
from syncd.http import build_session as build_base_session
from syncd.metrics.http_hooks import salesforce_response

#: (connect, read) seconds. A query page of 2,000 rows with relationship fields
#: can take tens of seconds to produce; connecting should never take long.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 120.0)


class TimeoutAdapter(HTTPAdapter):
    """An HTTPAdapter that applies `timeout` to every request sent without one."""

    # Pickling an adapter keeps only the names listed here.
    __attrs__ = [*HTTPAdapter.__attrs__, "timeout"]

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def build_session(
    ca_file: Path | None = None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT
) -> requests.Session:
    """A session like Graph's (trusts `ca_file`, ignores the environment, no adapter
    retries: retries are the client's) whose every request has a timeout."""
    session = build_base_session(ca_file)
    session.hooks["response"] = [salesforce_response]  # counted as Salesforce's
    adapter = TimeoutAdapter(timeout, pool_connections=8, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def enforces_timeout(session: requests.Session) -> bool:
    """Whether https requests through `session` get a default timeout."""
    return isinstance(session.get_adapter("https://salesforce.invalid/"), TimeoutAdapter)
