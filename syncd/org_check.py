"""`syncd config check --salesforce`: ask each tenant's org what only it can answer.

Logging in, reading Events and the tenant's `extra_filter` (field names, value
types) are tried with one query of at most one row per tenant: the Event query
syncd runs, cut to `SELECT Id ... LIMIT 1`. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING, TextIO

from syncd.config import ConfigError, LoadedConfig, TenantConfig
from syncd.domain import SyncdError
from syncd.salesforce.soql import probe_query

if TYPE_CHECKING:
    from syncd.salesforce.client import SalesforceClient


def check_orgs(config: LoadedConfig, out: TextIO) -> list[str]:
    """Probe every tenant's org; print one line each, return the problems found."""
    from syncd.runtime import salesforce_client_for

    problems = []
    for tenant in config.tenants.values():
        if tenant.salesforce_org == "sandbox" and tenant.sandbox.connection_file is None:
            print(f"  tenant {tenant.name}: skipped (its sandbox starts with syncd)", file=out)
            continue
        problem = _probe(tenant, salesforce_client_for)
        if problem is None:
            print(f"  tenant {tenant.name}: the Salesforce org runs its Event query", file=out)
        else:
            problems.append(f"tenant '{tenant.name}': {problem}")
    return problems


def _probe(
    tenant: TenantConfig, client_for: Callable[[TenantConfig], SalesforceClient]
) -> str | None:
    extra_filter = tenant.salesforce.scope.extra_filter
    query = probe_query(extra_filter) if extra_filter else probe_query("Id != null")
    try:
        client = client_for(tenant)
    except ConfigError as exc:
        return str(exc)
    try:
        list(islice(client.query(query), 1))
    except SyncdError as exc:
        what = "salesforce.scope.extra_filter" if extra_filter else "the Event query"
        return f"the org refused {what}: {exc.message}"
    finally:
        client.close()
    return None
