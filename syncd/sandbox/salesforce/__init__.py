"""A simulated Salesforce org served over HTTPS so simple-salesforce runs its real code.

Public surface:
- `SalesforceOrg` (org.py): the data and a Python API to act as the org's people;
  `build_org(...)` (generator.py) makes a seeded demo org of any size.
- `SalesforceState` / `build_salesforce_state(org)` (state.py): the org plus auth
  (connected apps, sessions), the daily API budget, query cursors, faults, counters.
- `salesforce_router(state)` to include in the shared sandbox app, or
  `build_salesforce_app(state)` to serve it alone (app.py).
"""

from syncd.sandbox.salesforce.app import build_salesforce_app, salesforce_router
from syncd.sandbox.salesforce.errors import RecordError, SalesforceError
from syncd.sandbox.salesforce.faults import ForcedError, SalesforceFaults
from syncd.sandbox.salesforce.generator import build_org
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.schema import FieldDef, Schema, default_schema
from syncd.sandbox.salesforce.state import SalesforceState, build_salesforce_state
from syncd.sandbox.salesforce.stats import SalesforceCounters
from syncd.sandbox.salesforce.writes import OrgSettings

__all__ = [
    "FieldDef",
    "ForcedError",
    "OrgSettings",
    "RecordError",
    "SalesforceCounters",
    "SalesforceError",
    "SalesforceFaults",
    "SalesforceOrg",
    "SalesforceState",
    "Schema",
    "build_org",
    "build_salesforce_app",
    "build_salesforce_state",
    "default_schema",
    "salesforce_router",
]
