"""simple-salesforce in direct mode (instance_url + session_id) for one attempt of one call.

A fresh `Salesforce` object per attempt costs a few attribute assignments (direct
mode makes no request) and gives each thread its own `api_usage`, which
simple-salesforce overwrites on every response. `SFType` objects land their
`api_usage` on themselves, so they are kept here and read after the call.
Direct mode also never retries a 401 on its own (login modes may recurse on
`sf.Event.*` calls: simple-salesforce issue #804); the client logs in again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from simple_salesforce import Salesforce, SFType

from syncd.salesforce.login import SalesforceSession


class DirectApi:
    """The simple-salesforce objects one attempt uses, and the usage they saw."""

    def __init__(self, session: SalesforceSession, http: requests.Session, version: str) -> None:
        self.session = session
        self.sf = Salesforce(
            instance_url=session.instance_url,
            session_id=session.access_token,
            session=http,
            version=version,
            # None, not dict: json.loads then builds the objects in C without a hook
            # call per object, a third cheaper on query pages of 2,000 Events.
            object_pairs_hook=None,
        )
        self._types: list[SFType] = []

    def sobject(self, name: str) -> SFType:
        """The SFType for `name` (a checked API name; `getattr(sf, name)` would also
        answer bulk handlers for "bulk" and "bulk2")."""
        handle = SFType(
            name,
            self.sf.session_id,
            self.sf.sf_instance,
            sf_version=self.sf.sf_version,
            session=self.sf.session,
            object_pairs_hook=dict,
        )
        self._types.append(handle)
        return handle

    def api_usage(self) -> Mapping[str, Any]:
        """Sforce-Limit-Info of the last successful response, as simple-salesforce parsed it."""
        usage: dict[str, Any] = dict(self.sf.api_usage)
        for handle in self._types:
            usage.update(handle.api_usage)
        return usage
