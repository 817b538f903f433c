"""Salesforce checks: login, API version, write-back fields, visibility, org shape, getDeleted.

Versions: GET /services/data/ lists what the org offers
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_versions.htm).
Event has no object-level "View All", so the integration user needs "View All Data"
to read other owners' Events: "Some standard objects don't have the View All
permission, such as Task and Event. In this case, the View All Data permission is
required" (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_security_perms.htm);
UserPermissionAccess holds the current user's permissions
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_userpermissionaccess.htm).
getDeleted answers earliestDateAvailable
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

import requests

from syncd.config import TenantConfig
from syncd.doctor.report import SALESFORCE, Check, failed, passed
from syncd.domain import SyncdError
from syncd.runtime import SalesforceAccess
from syncd.salesforce import SalesforceClient
from syncd.salesforce.field_requirements import field_of, requirements
from syncd.salesforce.org_shape import read_shape


@dataclass
class SalesforceFindings:
    checks: list[Check]
    date_header: str | None
    owners: list[str]  # e-mail addresses of some Event owners, for the mailbox check


def check_salesforce(
    tenant: TenantConfig,
    access: SalesforceAccess,
    client: SalesforceClient,
    *,
    deleted_watermark: datetime | None,
    clock: Callable[[], datetime],
) -> SalesforceFindings:
    found = SalesforceFindings([], None, [])
    try:
        session = access.login.login()
    except SyncdError as exc:
        found.checks.append(
            failed(
                SALESFORCE,
                "login",
                exc.message,
                "check [salesforce.login]: flow, client_id, username (JWT bearer), the key or "
                "secret, and audience (https://login.salesforce.com, or "
                "https://test.salesforce.com for a sandbox org); the connected app must be "
                "pre-authorized for the integration user",
            )
        )
        return found
    found.checks.append(passed(SALESFORCE, "login", f"logged in to {session.instance_url}"))
    version_check, found.date_header = _version_check(access, session.instance_url)
    found.checks.append(version_check)
    if not version_check.ok:
        return found  # every later call would be refused at this version
    steps: list[Callable[[], list[Check]]] = [
        lambda: _field_checks(tenant, client),
        lambda: [_view_all_check(client)],
        lambda: [_shared_activities_check(client)],
        lambda: [_deleted_check(tenant, client, deleted_watermark, clock)],
    ]
    for step in steps:
        try:
            found.checks.extend(step())
        except SyncdError as exc:
            found.checks.append(
                failed(SALESFORCE, "API", exc.message, "see the message; retry later")
            )
    found.owners = _owners(tenant, client)
    return found


def _version_check(access: SalesforceAccess, instance: str) -> tuple[Check, str | None]:
    try:
        answer = access.session.get(f"{instance}/services/data/", timeout=(5, 30))
        offered = [str(v.get("version")) for v in answer.json()]
    except (requests.RequestException, ValueError, AttributeError) as exc:
        return failed(
            SALESFORCE,
            "API version",
            f"the versions list at {instance}/services/data/ could not be read: {exc}",
            "check the network path to the org",
        ), None
    date = answer.headers.get("Date")
    wanted = access.api_version
    newest = offered[-1] if offered else "none"
    if wanted not in offered:
        return failed(
            SALESFORCE,
            "API version",
            f"the org does not offer API v{wanted} (newest: v{newest})",
            f'set [salesforce.login] api_version = "{newest}" (65.0 or later reads Lightning '
            "series links), or wait for the org's next release",
        ), date
    return passed(SALESFORCE, "API version", f"v{wanted} offered (newest v{newest})"), date


def _field_checks(tenant: TenantConfig, client: SalesforceClient) -> list[Check]:
    checks = []
    described: dict[str, dict[str, object]] = {}
    for need in requirements(tenant.salesforce.fields):
        if need.sobject not in described:
            described[need.sobject] = client.describe(need.sobject)
        entry = field_of(described[need.sobject], need.name)
        problems = need.problems(entry)
        name = f"field {need.sobject}.{need.name}"
        if not problems and entry is not None:
            kind, length = entry.get("type"), entry.get("length")
            shown = f"{kind}({length})" if need.min_length is not None else str(kind)
            checks.append(passed(SALESFORCE, name, f"{shown}, updateable"))
            continue
        where = "Activity" if need.sobject in ("Event", "EventRelation") else need.sobject
        checks.append(
            failed(
                SALESFORCE,
                name,
                "; ".join(problems),
                f"in Setup > Object Manager > {where} > Fields create or change {need.name} as "
                f"{need.what}, and give the integration user's permission set Edit access to "
                f"it (field-level security); or map another field with [salesforce.fields."
                f"{need.sobject.lower() if need.sobject != 'EventRelation' else 'event'}] "
                f'{need.key} ("" stops writing it)',
            )
        )
    return checks


def _view_all_check(client: SalesforceClient) -> Check:
    rows = list(islice(client.query("SELECT PermissionsViewAllData FROM UserPermissionAccess"), 1))
    if rows and rows[0].get("PermissionsViewAllData") is True:
        return passed(SALESFORCE, "View All Data", "the integration user sees every owner's Events")
    return failed(
        SALESFORCE,
        "View All Data",
        "the integration user lacks View All Data: it sees only Events shared with it",
        "assign the integration user a permission set with 'View All Data' (Event has no "
        "object-level View All; Setup > Permission Sets)",
    )


def _shared_activities_check(client: SalesforceClient) -> Check:
    if read_shape(client.describe).shared_activities:
        return passed(SALESFORCE, "Shared Activities", "on (EventRelation.IsInvitee exists)")
    return failed(
        SALESFORCE,
        "Shared Activities",
        "off: EventRelation has no IsInvitee, so every relation is taken as an invitee",
        "turn on Shared Activities (Setup > Activity Settings > 'Allow Users to Relate "
        "Multiple Contacts to Tasks and Events'); syncd works without it, with that limit",
    )


def _deleted_check(
    tenant: TenantConfig,
    client: SalesforceClient,
    watermark: datetime | None,
    clock: Callable[[], datetime],
) -> Check:
    now = clock()
    answer = client.deleted("Event", now - timedelta(days=1), now)
    earliest = answer.earliest_date_available
    poll = tenant.salesforce.schedules.poll_seconds
    if earliest is None:
        return passed(SALESFORCE, "getDeleted window", "no earliestDateAvailable given")
    kept = (now - earliest).total_seconds()
    if watermark is not None and earliest > watermark:
        return failed(
            SALESFORCE,
            "getDeleted window",
            f"deletions since the last poll ({watermark:%Y-%m-%d %H:%M:%S} UTC) were purged "
            f"(earliestDateAvailable {earliest:%Y-%m-%d %H:%M:%S} UTC)",
            "run `syncd reconcile --full` to catch up; keep the daemon polling more often "
            "than the recycle bin is emptied",
        )
    if kept < poll:
        return failed(
            SALESFORCE,
            "getDeleted window",
            f"deletions are listed only since {earliest:%Y-%m-%d %H:%M:%S} UTC "
            f"({max(kept, 0):.0f} s), less than the poll interval ({poll} s)",
            "lower [salesforce.schedules] poll_seconds, or stop emptying the recycle bin "
            "that often; after a gap run `syncd reconcile --full`",
        )
    return passed(
        SALESFORCE, "getDeleted window", f"deletions listed since {earliest:%Y-%m-%d %H:%M} UTC"
    )


def _owners(tenant: TenantConfig, client: SalesforceClient) -> list[str]:
    """A few in-org Event owners' addresses (for the mailbox check when the ledger has none)."""
    try:
        rows = islice(client.query("SELECT Owner.Email FROM Event WHERE IsChild = false"), 50)
        emails = [str((row.get("Owner") or {}).get("Email") or "") for row in rows]
    except SyncdError:
        return []
    return [e for e in dict.fromkeys(emails) if e and tenant.is_in_org(e)]
