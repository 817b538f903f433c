"""Turning tenant options on for one test, after the world was built."""

from __future__ import annotations

from typing import Any

from syncd.config import LoadedConfig


def set_salesforce_fields(config: LoadedConfig, tenant: str, **changes: Any) -> None:
    """Change a tenant's `[salesforce.fields]` (e.g. event_relation_status=True) for the
    sync services built from now on: `Runtime.sync_service` reads `config.tenants`."""
    current = config.tenants[tenant]
    salesforce = current.salesforce
    fields = salesforce.fields.model_copy(update=changes)
    config.tenants[tenant] = current.model_copy(
        update={"salesforce": salesforce.model_copy(update={"fields": fields})}
    )


def set_policy(config: LoadedConfig, tenant: str, **changes: Any) -> None:
    """Change a tenant's `[policy]` (e.g. outlook_changes="report") for the sync services
    built from now on."""
    current = config.tenants[tenant]
    policy = current.policy.model_copy(update=changes)
    config.tenants[tenant] = current.model_copy(update={"policy": policy})
