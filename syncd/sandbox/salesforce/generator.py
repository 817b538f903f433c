"""A seeded generator of realistic demo orgs of any size (the demo and the benchmarks use it).

Users are the same people the Microsoft sandbox generates for the same seed and
domain (`first.last@domain`, via `build_tenant`), or an explicit list of e-mails,
so both sandboxes agree on who is in the org. Events fall in working hours of
their owner's time zone, last 30 minutes to 2 hours, some all-day, some multi-day
(up to 14 days), with 0-8 invitees mixing users, contacts and leads, and a few
"MS Teams" locations. The same arguments (and clock) give the same org.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.microsoft.directory import build_tenant
from syncd.sandbox.microsoft.names import FIRST_NAMES, LAST_NAMES
from syncd.sandbox.microsoft.timezones import WINDOWS_TO_IANA
from syncd.sandbox.salesforce import demo_data as words
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.schema import Schema
from syncd.sandbox.salesforce.values import midnight
from syncd.sandbox.salesforce.writes import EVENT_DEFAULTS, OrgSettings, Writer

INVITEE_WEIGHTS = (20, 22, 20, 14, 9, 6, 4, 3, 2)  # 0..8 invitees
DURATIONS = (30, 30, 45, 60, 60, 60, 90, 120)
MULTI_DAY_LENGTHS = (2, 2, 3, 3, 4, 5, 7, 10, 14)


def build_org(
    users: int = 25,
    contacts: int = 60,
    leads: int = 20,
    events: int = 200,
    *,
    seed: int = 42,
    domain: str = "contoso.example",
    start: datetime | date | None = None,
    days: int = 28,
    user_emails: Sequence[str] | None = None,
    clock: SandboxClock | None = None,
    schema: Schema | None = None,
    integration_user: bool = True,
    settings: OrgSettings | None = None,
) -> SalesforceOrg:
    """A populated org. `start` (default: a week before the clock's today) and `days` bound
    the events; `user_emails` replaces the generated users; `integration_user` adds an
    active `syncd.integration@<domain>` user (org.integration_username) to run syncd as;
    `settings` are the org's settings (Shared Activities on by default)."""
    org = SalesforceOrg(clock=clock or SandboxClock(), schema=schema, seed=seed, settings=settings)
    rng = random.Random(f"salesforce-org|{seed}|{domain.lower()}")
    with org.lock:
        people = _add_users(org, users, domain, seed, user_emails)
        if integration_user:
            org.integration_username = f"syncd.integration@{domain}"
            org.add_user(org.integration_username, "syncd", "Integration", title="API only")
        customers = _add_customers(org, rng, contacts, leads)
        first_day = _first_day(org, start)
        _add_events(org, rng, events, people, customers, first_day, max(1, days))
    return org


def _add_users(
    org: SalesforceOrg, count: int, domain: str, seed: int, emails: Sequence[str] | None
) -> list[Record]:
    if emails is not None:
        for email in emails:
            org.add_user(email, time_zone="GMT")
    else:
        for person in build_tenant(domain, domain, count, seed).users:
            zone = WINDOWS_TO_IANA.get(person.time_zone.lower(), "UTC")
            org.add_user(
                person.email,
                person.given_name,
                person.surname,
                time_zone="GMT" if zone in ("UTC", "Etc/UTC") else zone,
                title=words.TITLES[len(person.email) % len(words.TITLES)],
            )
    return list(org.data.rows("User"))


def _add_customers(
    org: SalesforceOrg, rng: random.Random, contacts: int, leads: int
) -> list[Record]:
    seen: set[str] = set()
    for kind, count in (("Contact", contacts), ("Lead", leads)):
        for _ in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            domain = rng.choice(words.CUSTOMER_DOMAINS)
            local = f"{first}.{last}".lower()
            email, suffix = f"{local}@{domain}", 2
            while email in seen:
                email, suffix = f"{local}{suffix}@{domain}", suffix + 1
            seen.add(email)
            title = rng.choice(words.CUSTOMER_TITLES)
            if kind == "Contact":
                org.add_contact(email, first, last, Title=title)
            else:
                company = domain.split(".")[0].replace("-", " ").title()
                org.add_lead(email, first, last, company=company, Title=title)
    return [*org.data.rows("Contact"), *org.data.rows("Lead")]


def _first_day(org: SalesforceOrg, start: datetime | date | None) -> date:
    if start is None:
        return org.now().date() - timedelta(days=7)
    return start.date() if isinstance(start, datetime) else start


def _company(record: Record | None) -> str:
    email = getattr(record, "Email", None) or "customer@fabrikam.example"
    return email.split("@", 1)[1].split(".")[0].replace("-", " ").title()


def _working_start(rng: random.Random, day: date, zone_key: str | None) -> datetime:
    """A start on `day` between 08:00 and 16:30 in the owner's zone, in UTC."""
    try:
        zone = ZoneInfo(zone_key or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = datetime.combine(day, time(rng.randrange(8, 17), rng.choice((0, 30))), tzinfo=zone)
    return local.astimezone(UTC)


def _weekday(rng: random.Random, first_day: date, days: int) -> date:
    day = first_day + timedelta(days=rng.randrange(days))
    for _ in range(3):
        if day.weekday() < 5:
            break
        day = first_day + timedelta(days=rng.randrange(days))
    return day


def _times(rng: random.Random, day: date, owner: Record) -> dict[str, object]:
    roll = rng.random()
    if roll < 0.08:
        length = rng.choice((1, 1, 1, 2, 3))
        last = day + timedelta(days=length - 1)
        return {
            "IsAllDayEvent": True,
            "ActivityDate": day,
            "StartDateTime": midnight(day),
            "EndDateTime": midnight(last),
            "EndDate": last,
            "DurationInMinutes": length * 1440,
        }
    start = _working_start(rng, day, getattr(owner, "TimeZoneSidKey", None))
    if roll < 0.12:
        end = start + timedelta(days=rng.choice(MULTI_DAY_LENGTHS) - 1, hours=rng.choice((2, 4, 8)))
    else:
        end = start + timedelta(minutes=rng.choice(DURATIONS))
    return {
        "IsAllDayEvent": False,
        "StartDateTime": start,
        "EndDateTime": end,
        "ActivityDateTime": start,
        "ActivityDate": start.date(),
        "EndDate": end.date(),
        "DurationInMinutes": int((end - start).total_seconds() // 60),
    }


def _location(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.2:
        return words.TEAMS_LOCATION
    if roll < 0.55:
        return rng.choice(words.ROOMS)
    return None


def add_events(
    org: SalesforceOrg,
    count: int,
    *,
    seed: int = 42,
    owners: Sequence[str] | None = None,
    invitee_weights: Sequence[float] = INVITEE_WEIGHTS,
    start: datetime | date | None = None,
    days: int = 28,
) -> None:
    """Add `count` more Events to `org` as build_org makes them (the benchmarks use it).

    `owners` (e-mails) are the organizers and the in-org invitees (default: every active
    user but the integration user); `invitee_weights[n]` is the weight of n invitees.
    """
    rng = random.Random(f"salesforce-events|{seed}|{count}")
    with org.lock:
        users = [u for u in org.data.rows("User") if u.Username != org.integration_username]
        if owners is not None:
            wanted = {email.lower() for email in owners}
            users = [u for u in users if str(u.Email).lower() in wanted]
        customers = [*org.data.rows("Contact"), *org.data.rows("Lead")]
        first_day = _first_day(org, start)
        _add_events(org, rng, count, users, customers, first_day, max(1, days), invitee_weights)


def _add_events(
    org: SalesforceOrg,
    rng: random.Random,
    count: int,
    people: list[Record],
    customers: list[Record],
    first_day: date,
    days: int,
    invitee_weights: Sequence[float] = INVITEE_WEIGHTS,
) -> None:
    owners = [u for u in people if u.IsActive]
    writer = org.writer
    stamps = writer.stamps(None)
    for _ in range(count):
        owner = rng.choice(owners)
        who = rng.choice(customers) if customers and rng.random() < 0.35 else None
        times = _times(rng, _weekday(rng, first_day, days), owner)
        template = rng.choice(words.ALL_DAY_SUBJECTS if times["IsAllDayEvent"] else words.SUBJECTS)
        show_as = rng.choices(("Busy", "Free", "OutOfOffice"), (85, 8, 7))[0]
        values = {
            **EVENT_DEFAULTS,
            **times,
            **stamps,
            "CreatedById": owner.id,
            "LastModifiedById": owner.id,
            "OwnerId": owner.id,
            "Subject": template.format(company=_company(who or rng.choice(customers or [None]))),
            "Location": _location(rng),
            "Description": rng.choice(words.DESCRIPTIONS) if rng.random() < 0.4 else None,
            "ShowAs": show_as,
            "IsPrivate": rng.random() < 0.05,
            "Type": rng.choice(words.EVENT_TYPES),
            "WhoId": who.id if who else None,
            "IsDeleted": False,
        }
        event = writer.insert("Event", None, **values)
        _add_invitees(writer, rng, event, owner, who, people, customers, stamps, invitee_weights)


def _add_invitees(
    writer: Writer,
    rng: random.Random,
    event: Record,
    owner: Record,
    who: Record | None,
    people: list[Record],
    customers: list[Record],
    stamps: dict[str, Any],
    weights: Sequence[float] = INVITEE_WEIGHTS,
) -> None:
    chosen: dict[str, Record] = {}
    wanted = rng.choices(range(len(weights)), weights)[0]
    for _ in range(wanted * 2):
        if len(chosen) >= wanted:
            break
        pool = people if rng.random() < 0.45 or not customers else customers
        target = rng.choice(pool)
        if target.id != owner.id:
            chosen.setdefault(target.id, target)
    if who is not None and who.id not in chosen:
        writer.attach(event, who, invitee=False, parent=True, by=owner.id, stamps=stamps)
    for target in chosen.values():
        status = rng.choices(("New", "Accepted", "Declined"), (60, 30, 10))[0]
        responded = None if status == "New" else stamps["SystemModstamp"]
        writer.attach(
            event,
            target,
            invitee=True,
            parent=who is not None and target.id == who.id,
            status=status,
            responded=responded,
            by=owner.id,
            stamps=stamps,
        )
