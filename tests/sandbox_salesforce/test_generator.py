"""The seeded demo-org generator, and mounting the org next to the Microsoft sandbox."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.microsoft.directory import build_tenant
from syncd.sandbox.salesforce import build_org, build_salesforce_state, salesforce_router
from syncd.sandbox.salesforce.ids import is_valid_id

from .helpers import T0


def _frozen() -> SandboxClock:
    clock = SandboxClock()
    clock.freeze(T0)
    return clock


def test_same_seed_same_org() -> None:
    first = build_org(users=8, contacts=10, leads=5, events=300, seed=11, clock=_frozen())
    second = build_org(users=8, contacts=10, leads=5, events=300, seed=11, clock=_frozen())
    other = build_org(users=8, contacts=10, leads=5, events=300, seed=12, clock=_frozen())
    snapshot = [first.get(i) for i in first.ids_of("Event") + first.ids_of("EventRelation")]
    assert snapshot == [
        second.get(i) for i in second.ids_of("Event") + second.ids_of("EventRelation")
    ]
    assert first.ids_of("Event")[:5] == second.ids_of("Event")[:5]
    subjects = [first.record(i)["Subject"] for i in first.ids_of("Event")[:20]]
    assert subjects != [other.record(i)["Subject"] for i in other.ids_of("Event")[:20]]


def test_users_agree_with_the_microsoft_sandbox() -> None:
    org = build_org(
        users=12, contacts=0, leads=0, events=0, seed=42, domain="contoso.example", clock=_frozen()
    )
    emails = {org.record(i)["Email"] for i in org.ids_of("User")}
    tenant = build_tenant("Contoso", "contoso.example", 12, 42)
    assert emails == {u.email for u in tenant.users} | {"syncd.integration@contoso.example"}
    explicit = build_org(
        users=0,
        events=5,
        user_emails=["ana@fabrikam.example", "bo@fabrikam.example"],
        clock=_frozen(),
    )
    assert explicit.find_user("ana@fabrikam.example") is not None


def test_twenty_thousand_events_look_like_a_sales_org() -> None:
    org = build_org(
        users=25, contacts=60, leads=20, events=20_000, seed=5, start=T0, days=28, clock=_frozen()
    )
    parents, children = [], 0
    with org.lock:
        for event in org.data.rows("Event"):
            if event.IsChild:
                children += 1
            else:
                parents.append(event)
    assert len(parents) == 20_000 and children > 0
    assert all(is_valid_id(e.id) for e in parents[:1000])
    durations = Counter()
    invitee_counts = Counter()
    zones = {u.id: ZoneInfo(u.TimeZoneSidKey) for u in org.data.rows("User")}
    for event in parents:
        start, end = event.StartDateTime, event.EndDateTime
        # Working hours on a day of the window in the owner's zone (all-day: its date).
        if event.IsAllDayEvent:
            day = event.ActivityDate
        else:
            day = start.astimezone(zones[event.OwnerId]).date()
        assert T0.date() <= day < T0.date() + timedelta(days=28)
        assert timedelta(0) <= end - start <= timedelta(days=14)
        if event.IsAllDayEvent:
            durations["all-day"] += 1
        elif end - start > timedelta(hours=2):
            durations["multi-day"] += 1
        else:
            assert timedelta(minutes=30) <= end - start <= timedelta(hours=2)
            durations["timed"] += 1
        invitees = [r for r in org.data.relations_of(event.id) if r.IsInvitee]
        invitee_counts[len(invitees)] += 1
    assert min(durations.values()) > 100
    assert set(invitee_counts) == set(range(9))
    locations = Counter(e.Location for e in parents)
    assert locations["MS Teams"] > 1000
    kinds = Counter(r.RelationId[:3] for r in org.data.rows("EventRelation"))
    assert set(kinds) == {"005", "003", "00Q"}


def test_router_mounts_next_to_other_sandbox_routes() -> None:
    from syncd.sandbox.admin import admin_router
    from syncd.sandbox.microsoft.directory import Directory
    from syncd.sandbox.microsoft.identity_routes import identity_router
    from syncd.sandbox.microsoft.state import build_state

    clock = _frozen()
    microsoft = build_state(seed=1, clock=clock, directory=Directory())
    salesforce = build_salesforce_state(build_org(users=2, events=1, clock=clock))
    app = FastAPI()
    app.include_router(admin_router(microsoft))
    app.include_router(identity_router(microsoft.identity, clock))
    app.include_router(salesforce_router(salesforce))

    async def exercise() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://127.0.0.1:8443"
        ) as client:
            form = {"grant_type": "client_credentials", "client_id": "x"}
            token = await client.post("/services/oauth2/token", data=form)
            ours = await client.get("/_sandbox/salesforce/stats")
            theirs = await client.get("/_sandbox/stats")
            return [token.json(), ours.json(), theirs.json()]

    token, ours, theirs = asyncio.run(exercise())
    assert token == {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    assert "api_calls" in ours
    assert "graph_requests" in theirs
