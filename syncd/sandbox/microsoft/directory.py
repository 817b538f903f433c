"""Entra tenants and their users: who exists, who has an Exchange mailbox, in which time zone."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from dataclasses import dataclass, field

from syncd.sandbox.microsoft.names import DEMO_PEOPLE, FIRST_NAMES, LAST_NAMES
from syncd.sandbox.microsoft.timezones import resolve_zone

# Every tenth generated user (index 9, 19, ...) is unlicensed: no Exchange mailbox.
NO_MAILBOX_EVERY = 10

#: The mailbox time zones generated users get, as mailboxSettings reports them: Windows
#: names (https://learn.microsoft.com/en-us/graph/api/resources/mailboxsettings), spread
#: so that every kind of zone a tenant has is met: west of UTC, half- and quarter-hour
#: offsets, no daylight saving, the southern hemisphere (whose summer time spans the new
#: year), next to the date line, and Europe.
MAILBOX_TIME_ZONES = (
    "Pacific Standard Time",  # UTC-8/-7, US rules
    "Eastern Standard Time",  # UTC-5/-4
    "Central Standard Time",  # UTC-6/-5
    "US Mountain Standard Time",  # Arizona, UTC-7 all year
    "Hawaiian Standard Time",  # UTC-10, no daylight saving
    "Newfoundland Standard Time",  # UTC-3:30/-2:30
    "E. South America Standard Time",  # Brasilia, UTC-3, southern hemisphere
    "Pacific SA Standard Time",  # Santiago, southern summer time
    "GMT Standard Time",  # London, UTC+0/+1
    "W. Europe Standard Time",  # Berlin
    "Romance Standard Time",  # Paris
    "FLE Standard Time",  # Helsinki, Kyiv, UTC+2/+3
    "India Standard Time",  # UTC+5:30, no daylight saving
    "Nepal Standard Time",  # UTC+5:45
    "Tokyo Standard Time",  # UTC+9, no daylight saving
    "Cen. Australia Standard Time",  # Adelaide, UTC+9:30/+10:30
    "AUS Eastern Standard Time",  # Sydney, UTC+10/+11
    "New Zealand Standard Time",  # Auckland, UTC+12/+13
    "Fiji Standard Time",  # UTC+12, by the date line
    "UTC",
)


@dataclass
class DirectoryUser:
    """A user object; `email` doubles as the userPrincipalName."""

    id: str
    tenant_id: str
    email: str
    display_name: str
    given_name: str | None = None
    surname: str | None = None
    has_mailbox: bool = True
    time_zone: str = "UTC"

    @property
    def user_principal_name(self) -> str:
        return self.email

    def match_keys(self) -> tuple[str, str]:
        """The lower-cased id and address, as fault and access-policy rules match them."""
        return (self.id.lower(), self.email.lower())


@dataclass
class Tenant:
    """One Entra tenant (one Microsoft 365 organisation)."""

    id: str
    name: str
    domain: str
    users: list[DirectoryUser] = field(default_factory=list)


def stable_uuid(*parts: object) -> str:
    """A GUID derived from the parts, so seeded directories keep their ids."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


class Directory:
    """All tenants the sandbox knows; lookups are case-insensitive."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tenants: dict[str, Tenant] = {}

    def add_tenant(self, tenant: Tenant) -> Tenant:
        with self._lock:
            if tenant.id in self._tenants:
                raise ValueError(f"tenant {tenant.id} ({tenant.name}) is already registered")
            self._tenants[tenant.id] = tenant
        return tenant

    def tenants(self) -> list[Tenant]:
        with self._lock:
            return list(self._tenants.values())

    def tenant(self, key: str) -> Tenant | None:
        """A tenant by id, domain or name."""
        wanted = key.strip().lower()
        with self._lock:
            for tenant in self._tenants.values():
                if wanted in (tenant.id.lower(), tenant.domain.lower(), tenant.name.lower()):
                    return tenant
        return None

    def add_user(
        self,
        tenant_id: str,
        email: str,
        display_name: str | None = None,
        *,
        has_mailbox: bool = True,
        time_zone: str = "UTC",
        user_id: str | None = None,
    ) -> DirectoryUser:
        """Add one user (for tests); the address must be unique across the sandbox."""
        resolve_zone(time_zone)  # fail early on a zone Graph would not accept
        with self._lock:
            tenant = self.tenant(tenant_id)
            if tenant is None:
                raise KeyError(f"no tenant {tenant_id!r} in the sandbox directory")
            if self.find_by_email(email) is not None:
                raise ValueError(f"a user with address {email!r} already exists")
            user = DirectoryUser(
                id=user_id or stable_uuid("user", tenant.id, email.lower()),
                tenant_id=tenant.id,
                email=email,
                display_name=display_name or email.split("@", 1)[0],
                has_mailbox=has_mailbox,
                time_zone=time_zone,
            )
            tenant.users.append(user)
        return user

    def set_time_zone(self, email: str, time_zone: str) -> DirectoryUser:
        """Change a mailbox's time zone (what the user sets in Outlook's settings)."""
        resolve_zone(time_zone)  # a zone Graph would not accept is refused here too
        user = self.find_by_email(email)
        if user is None:
            raise KeyError(f"no user {email!r} in the sandbox directory")
        with self._lock:
            user.time_zone = time_zone
        return user

    def find_user(self, tenant_id: str, key: str) -> DirectoryUser | None:
        """A user of one tenant by object id or userPrincipalName."""
        wanted = key.strip().lower()
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                return None
            for user in tenant.users:
                if wanted in user.match_keys():
                    return user
        return None

    def find_by_email(self, email: str) -> DirectoryUser | None:
        """A user of any tenant by address (invitations cross tenants by e-mail)."""
        wanted = email.strip().lower()
        with self._lock:
            for tenant in self._tenants.values():
                for user in tenant.users:
                    if user.email.lower() == wanted:
                        return user
        return None


def _people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` distinct (first, last) pairs: the demo personas in seeded order, then mixes."""
    people = list(DEMO_PEOPLE)
    rng.shuffle(people)
    seen = set(people)
    names = len(seen | {(first, last) for first in FIRST_NAMES for last in LAST_NAMES})
    while len(people) < count and len(seen) < names:
        pair = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        if pair not in seen:
            seen.add(pair)
            people.append(pair)
    # Past the ~670 names there are (directories of any size, e.g. for benchmarks),
    # the same names again with a numbered surname: adele.vance2@...
    number = 2
    while len(people) < count:
        people += [(first, f"{last}{number}") for first in FIRST_NAMES for last in LAST_NAMES]
        number += 1
    return people[:count]


def build_tenant(name: str, domain: str, users: int = 25, seed: int = 42) -> Tenant:
    """A tenant with `users` realistic, seed-stable users (e.g. adele.vance@domain)."""
    rng = random.Random(f"{seed}|{domain.lower()}")
    tenant = Tenant(id=stable_uuid("tenant", seed, domain.lower()), name=name, domain=domain)
    for index, (first, last) in enumerate(_people(rng, users)):
        email = f"{first.lower()}.{last.lower()}@{domain}"
        tenant.users.append(
            DirectoryUser(
                id=stable_uuid("user", seed, email),
                tenant_id=tenant.id,
                email=email,
                display_name=f"{first} {last}",
                given_name=first,
                surname=last,
                has_mailbox=index % NO_MAILBOX_EVERY != NO_MAILBOX_EVERY - 1,
                time_zone=rng.choice(MAILBOX_TIME_ZONES),
            )
        )
    return tenant


def build_directory(
    domain: str = "contoso.example", users: int = 25, seed: int = 42, *, name: str | None = None
) -> Directory:
    """A directory holding one generated tenant; add more with `add_tenant(build_tenant(...))`."""
    directory = Directory()
    directory.add_tenant(build_tenant(name or domain.split(".", 1)[0].title(), domain, users, seed))
    return directory
