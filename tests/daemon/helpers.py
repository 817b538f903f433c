"""Helpers of the daemon and sync command-line tests: the sandbox world, views of
the sandbox's two sides, and the systemd end of sd_notify."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from syncd.config import LoadedConfig, load_config
from syncd.sandbox.salesforce import SalesforceOrg
from syncd.sandbox.server import RunningSandbox
from tests.store_routing import database_url_line
from tests.support import wait_until

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("syncd")
#: The installed console script (what systemd runs), else the module.
SYNCD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "syncd.cli"]
TENANT = "demo"
DOMAIN = "contoso.example"
#: Demo Events in the org: enough for a page of work, few enough to be quick.
EVENTS = 20


@dataclass
class World:
    """A running sandbox and a config whose one tenant syncs with it."""

    sandbox: RunningSandbox
    config_path: Path
    root: Path

    @property
    def org(self) -> SalesforceOrg:
        return self.sandbox.org(TENANT).org

    def config(self) -> LoadedConfig:
        return load_config(self.config_path)

    def syncd(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `syncd --config ... ARGS` to completion (stdout and stderr captured)."""
        return subprocess.run(
            [*SYNCD, "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=REPO,
        )


def write_config(root: Path, connection_file: Path, *, poll_seconds: int = 5) -> Path:
    """syncd.toml plus tenants/demo.toml pointing at the running sandbox."""
    tenants = root / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    (tenants / f"{TENANT}.toml").write_text(
        f'name = "{TENANT}"\nprovider = "sandbox"\nmail_domains = ["{DOMAIN}"]\n\n'
        f"[sandbox]\nseed = 42\nusers = 25\nsalesforce_events = {EVENTS}\n"
        f'connection_file = "{connection_file}"\n\n'
        f"[salesforce.schedules]\npoll_seconds = {poll_seconds}\nresponses_seconds = 30\n"
        "availability_seconds = 60\nretry_failed_seconds = 30\n"
    )
    path = root / "syncd.toml"
    path.write_text(
        database_url_line(root / "state")
        + 'tenants_dir = "tenants"\nstate_dir = "state"\nlog_level = "INFO"\n'
    )
    return path


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
