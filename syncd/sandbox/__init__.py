"""A local stand-in for the cloud services syncd talks to, served over real HTTPS.

The Microsoft part (`syncd.sandbox.microsoft`) simulates the Microsoft identity
platform (client credentials) and the Microsoft Graph calendar API, so msal and
requests run their real code against it. Shared pieces (TLS, clock, faults,
counters, server) live at this level so other simulated services can join later.
"""

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.faults import Faults, ForcedFailure
from syncd.sandbox.server import (
    RunningSandbox,
    SandboxTenantSpec,
    TenantCredentials,
    run_standalone,
    start_sandbox,
)
from syncd.sandbox.stats import Counters

__all__ = [
    "Counters",
    "Faults",
    "ForcedFailure",
    "RunningSandbox",
    "SandboxClock",
    "SandboxTenantSpec",
    "TenantCredentials",
    "run_standalone",
    "start_sandbox",
]
