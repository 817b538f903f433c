"""Everything the Salesforce side of the sandbox keeps, wired together once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.salesforce.auth import DEFAULT_SESSION_TIMEOUT, Auth, ConnectedApp
from syncd.sandbox.salesforce.budget import DEFAULT_DAILY_LIMIT, ApiBudget
from syncd.sandbox.salesforce.cursors import Cursors
from syncd.sandbox.salesforce.faults import SalesforceFaults
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.stats import SalesforceCounters

# REST API versions the sandbox answers (/services/data/vXX.X/...).
MIN_VERSION = 40
MAX_VERSION = 67  # Summer '26


@dataclass
class SalesforceState:
    """The org plus the knobs and counters that shape how its API answers."""

    org: SalesforceOrg
    auth: Auth
    budget: ApiBudget
    cursors: Cursors
    faults: SalesforceFaults
    counters: SalesforceCounters
    #: the newest REST API version the org offers: an org on an older release lists
    #: no later version, and calls to one answer 404 (assumed from resources_versions.htm,
    #: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_versions.htm)
    max_version: int = MAX_VERSION

    @property
    def clock(self) -> SandboxClock:
        return self.org.clock

    def register_connected_app(
        self,
        client_id: str,
        certificate_pem: str | bytes | None = None,
        client_secret: str | None = None,
        run_as: str | None = None,
    ) -> ConnectedApp:
        """Register a connected app (JWT certificate and/or secret + run-as username)."""
        return self.auth.register_connected_app(
            client_id, certificate_pem=certificate_pem, client_secret=client_secret, run_as=run_as
        )

    def revoke_sessions(self) -> int:
        """Invalidate every session (API calls then answer 401 INVALID_SESSION_ID)."""
        return self.auth.revoke_sessions()

    def reset(self) -> None:
        """Knobs and counters back to defaults (the org's records stay)."""
        self.faults.reset()
        self.counters.reset()
        self.budget.reset()
        self.cursors.clear()
        self.auth.session_timeout_seconds = DEFAULT_SESSION_TIMEOUT
        self.max_version = MAX_VERSION


def build_salesforce_state(
    org: SalesforceOrg | None = None,
    *,
    clock: SandboxClock | None = None,
    seed: int = 42,
    daily_api_limit: int = DEFAULT_DAILY_LIMIT,
    assertion_clock: Callable[[], float] = time.time,
) -> SalesforceState:
    """Wire an org (a fresh empty one by default) to auth, budget, cursors, faults, counters."""
    org = org or SalesforceOrg(clock=clock or SandboxClock(), seed=seed)
    return SalesforceState(
        org=org,
        auth=Auth(org, assertion_clock=assertion_clock),
        budget=ApiBudget(org.now, daily_api_limit),
        cursors=Cursors(lambda: org.ids.new("01g")),
        faults=SalesforceFaults(seed),
        counters=SalesforceCounters(),
    )
