"""Helpers of the daemon and sync command-line tests: the sandbox world, views of
the sandbox's two sides, and the systemd end of sd_notify."""

from __future__ import annotations

import socket
from pathlib import Path

from syncd.sandbox.salesforce import SalesforceOrg
from syncd.sandbox.server import RunningSandbox
from tests.harness import REPO, SYNCD, SandboxTenant, World, write_config
from tests.support import wait_until

__all__ = ["REPO", "SYNCD", "World"]

TENANT = "demo"
DOMAIN = "contoso.example"
#: Demo Events in the org: enough for a page of work, few enough to be quick.
EVENTS = 20
#: The one tenant of these tests; `reaching(connection file)` makes it the running
#: sandbox's (`syncd` subprocesses and in-process runtimes then see the same sandbox).
DEMO = SandboxTenant(
    TENANT,
    DOMAIN,
    seed=42,
    users=25,
    salesforce_events=EVENTS,
    schedules={
        "poll_seconds": 5,
        "responses_seconds": 30,
        "availability_seconds": 60,
        "retry_failed_seconds": 30,
    },
)
SETTINGS = 'log_level = "INFO"\n'


def write_demo_config(root: Path, connection_file: Path) -> Path:
    """syncd.toml plus tenants/demo.toml pointing at the running sandbox."""
    return write_config(root, DEMO.reaching(connection_file), settings=SETTINGS)


# -------------------------------------------------------------- sandbox views


def mailbox_users(sandbox: RunningSandbox) -> dict[str, str]:
    """Address (lower case) -> directory id, of the tenant's users with a mailbox."""
    return {u.email.lower(): u.id for u in sandbox.tenant(TENANT).users if u.has_mailbox}


def outlook_meetings(sandbox: RunningSandbox) -> list[str]:
    """Graph ids of the live meetings organized in the tenant's Outlook calendars
    (the Microsoft side of the sandbox, not syncd's ledger), sorted."""
    found = []
    for user_id in mailbox_users(sandbox).values():
        for event in sandbox.calendars.events(
            user_id, lambda e: e.is_organizer and not e.is_cancelled
        ):
            found.append(event.id)
    return sorted(found)


def parent_events(org: SalesforceOrg) -> list[dict[str, object]]:
    return [r for r in map(org.record, org.ids_of("Event")) if not r.get("IsChild")]


def drop_events_without_mailbox(sandbox: RunningSandbox) -> None:
    """Delete the demo Events whose owner has no Outlook mailbox: such an Event
    fails by design (OrganizerNotFound), and some tests need a clean pass."""
    org = sandbox.org(TENANT).org
    mailboxes = mailbox_users(sandbox)
    for event in parent_events(org):
        owner = org.record(str(event["OwnerId"]))
        if str(owner.get("Email", "")).lower() not in mailboxes:
            org.delete_event(str(event["Id"]))


# ------------------------------------------------------------------ sd_notify


class NotifyListener:
    """The systemd end of sd_notify: a datagram socket that collects messages."""

    def __init__(self, address: str, bind_to: str) -> None:
        self.address = address  # what goes in NOTIFY_SOCKET
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def _drain(self) -> None:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return

    def lines(self) -> list[str]:
        """Every KEY=VALUE line received so far, in order."""
        self._drain()
        return [line for message in self.messages for line in message.splitlines()]

    def wait_for(self, line: str, *, count: int = 1, timeout: float = 30) -> list[str]:
        wait_until(
            lambda: self.lines().count(line) >= count,
            f"{count} x {line!r} on the notify socket (got {self.lines()})",
            timeout,
        )
        return self.lines()

    def close(self) -> None:
        self.sock.close()
