"""Each misconfiguration the sandbox can play makes exactly its own doctor check fail,
with advice that names what to change; the healthy sandbox passes every check.

Against the sandbox over HTTPS through the same clients the daemon uses (msal, the
Salesforce client); the knobs are set through the sandbox's admin API. The doctor's
clock is the sandbox's (which starts at the suite's instant), so no test depends on
the day it runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from syncd.doctor import DoctorReport, run_doctor
from syncd.runtime import salesforce_client_for
from tests.daemon.helpers import TENANT, mailbox_users
from tests.doctor.conftest import Clinic


def doctor(clinic: Clinic) -> DoctorReport:
    return run_doctor(clinic.config(), [TENANT], clock=clinic.sandbox.clock.now)


def failing(report: DoctorReport) -> dict[str, str]:
    """Failed check name -> its detail and advice."""
    return {
        check.name: f"{check.detail} | {check.advice}" for check in report.tenant(TENANT).failures()
    }


def test_a_healthy_sandbox_passes_every_check(clinic: Clinic) -> None:
    report = doctor(clinic)
    assert report.ok, failing(report)
    names = {check.name for check in report.tenant(TENANT).checks}
    assert {
        "token",
        "permissions",
        "mailbox",
        "login",
        "API version",
        "field Event.Outlook_Event_Id__c",
        "field User.Availability_Snapshot__c",
        "View All Data",
        "Shared Activities",
        "getDeleted window",
        "migrated",
        "lease",
        "clock vs Microsoft Graph",
        "clock vs Salesforce",
    } <= names
    shape = report.to_json()
    assert set(shape) == {"ok", "tenants"}
    assert set(shape["tenants"][0]) == {"tenant", "ok", "checks"}
    assert set(shape["tenants"][0]["checks"][0]) == {"group", "name", "ok", "detail", "advice"}


def _grant(clinic: Clinic, *roles: str) -> None:
    _, client_id, _ = clinic.sandbox.credentials(TENANT)
    clinic.graph_admin("PUT", f"/apps/{client_id}/roles", {"roles": list(roles)})


def _roles(clinic: Clinic) -> None:
    _grant(clinic, "MailboxSettings.Read", "User.Read.All")


def _policy(clinic: Clinic) -> None:
    for address in mailbox_users(clinic.sandbox):
        clinic.graph_admin("POST", "/access-policy/deny", {"mailbox": address})


def _wrong_secret(clinic: Clinic) -> None:
    data = json.loads(clinic.connection_file.read_text())
    data["tenants"][0]["client_secret"] = "not-the-secret"
    clinic.connection_file.write_text(json.dumps(data))


def _field(
    method: str, name: str, body: dict[str, object] | None = None
) -> Callable[[Clinic], None]:
    return lambda clinic: clinic.salesforce_admin(method, f"/fields/Event/{name}", body)


def _setting(**body: object) -> Callable[[Clinic], None]:
    return lambda clinic: clinic.salesforce_admin("PUT", "/settings", body)


def _purged(clinic: Clinic) -> None:
    org = clinic.sandbox.org(TENANT).org
    event = next(i for i in org.ids_of("Event") if not org.record(i).get("IsChild"))
    clinic.salesforce_admin("DELETE", f"/events/{event}")
    clinic.salesforce_admin("POST", "/recycle-bin/purge", {"sobject": "Event"})


KNOBS: dict[str, tuple[Callable[[Clinic], None], str, str]] = {
    # knob: (apply it, the one check that fails, what its text must say)
    "token without a role": (_roles, "permissions", "Calendars.ReadWrite"),
    "access policy": (_policy, "mailbox", "application access policy"),
    "wrong client secret": (_wrong_secret, "token", "invalid_client"),
    "field missing": (
        _field("DELETE", "Outlook_Event_Id__c"),
        "field Event.Outlook_Event_Id__c",
        "does not exist",
    ),
    "field too short": (
        _field("PUT", "Outlook_Event_Id__c", {"length": 100}),
        "field Event.Outlook_Event_Id__c",
        "holds 100 characters",
    ),
    "field of the wrong type": (
        _field("PUT", "Synced_At__c", {"type": "string", "length": 40}),
        "field Event.Synced_At__c",
        "type string",
    ),
    "field not updateable": (
        _field("PUT", "Sync_Status__c", {"updateable": False}),
        "field Event.Sync_Status__c",
        "not updateable",
    ),
    "no View All Data": (_setting(view_all_data=False), "View All Data", "permission set"),
    "Shared Activities off": (
        _setting(shared_activities=False),
        "Shared Activities",
        "Activity Settings",
    ),
    "API version not offered": (
        _setting(max_api_version=64),
        "API version",
        'api_version = "64.0"',
    ),
    "getDeleted window shorter than the poll gap": (
        _purged,
        "getDeleted window",
        "poll_seconds",
    ),
    "Graph's clock off": (
        lambda clinic: clinic.graph_admin("PUT", "/faults", {"date_skew_seconds": 120}),
        "clock vs Microsoft Graph",
        "NTP",
    ),
    "Salesforce's clock off": (
        lambda clinic: clinic.salesforce_admin("PUT", "/faults", {"date_skew_seconds": -300}),
        "clock vs Salesforce",
        "NTP",
    ),
}


@pytest.mark.parametrize("knob", list(KNOBS))
def test_each_misconfiguration_fails_exactly_its_check(clinic: Clinic, knob: str) -> None:
    apply, check, says = KNOBS[knob]
    apply(clinic)
    report = doctor(clinic)
    failed = failing(report)
    assert list(failed) == [check], failed
    assert says in failed[check], failed[check]
    assert not report.ok and not report.to_json()["ok"]


def test_a_missing_mailbox_permission_is_not_taken_for_an_access_policy(clinic: Clinic) -> None:
    """Both answer 403 ErrorAccessDenied; only the policy's message names it."""
    _grant(clinic, "Calendars.ReadWrite")
    failed = failing(doctor(clinic))
    assert list(failed) == ["permissions", "mailbox"], failed
    assert "MailboxSettings.Read" in failed["permissions"]
    assert "permission MailboxSettings.Read" in failed["mailbox"]
    assert "policy" not in failed["mailbox"]


def test_without_view_all_data_the_api_user_sees_only_its_own_events(clinic: Clinic) -> None:
    client = salesforce_client_for(clinic.config().tenant(TENANT), clinic.sandbox.clock.now)
    try:
        query = "SELECT Id FROM Event WHERE IsChild = false"
        assert len(list(client.query(query))) > 0
        clinic.salesforce_admin("PUT", "/settings", {"view_all_data": False})
        assert list(client.query(query)) == [], "the demo Events belong to other owners"
    finally:
        client.close()


def test_each_run_is_kept_for_the_status_page(clinic: Clinic) -> None:
    from syncd.console.overview import health_of
    from syncd.ledger import tenant_state as ts
    from syncd.ledger.db import make_engine

    engine = make_engine(clinic.config().database_url)
    assert doctor(clinic).ok
    state = ts.read_state(engine, TENANT)
    assert state is not None and state.doctor_ok is True
    assert health_of(state) == ("ok", "the last doctor run passed")

    clinic.salesforce_admin("PUT", "/settings", {"view_all_data": False})
    assert not doctor(clinic).ok
    state = ts.read_state(engine, TENANT)
    assert state is not None and state.doctor_ok is False
    health, reason = health_of(state)
    assert health == "broken" and "View All Data" in reason, reason
    engine.dispose()
