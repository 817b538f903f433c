"""Application access policies: an Exchange admin can fence an app out of chosen mailboxes.

https://learn.microsoft.com/en-us/graph/auth-limit-mailbox-access
A blocked mailbox answers 403 ErrorAccessDenied ("Access to OData is disabled:
[RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.").
"""

from __future__ import annotations

import threading

from syncd.sandbox.microsoft.directory import DirectoryUser

ANY_APP = "*"


class AccessPolicy:
    """Mailboxes (by id or address) that an app, or every app, may not open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denied: set[tuple[str, str]] = set()

    def deny(self, mailbox: str, client_id: str | None = None) -> None:
        with self._lock:
            self._denied.add(((client_id or ANY_APP).lower(), mailbox.strip().lower()))

    def allow(self, mailbox: str, client_id: str | None = None) -> None:
        with self._lock:
            self._denied.discard(((client_id or ANY_APP).lower(), mailbox.strip().lower()))

    def clear(self) -> None:
        with self._lock:
            self._denied.clear()

    def denies(self, client_id: str, user: DirectoryUser) -> bool:
        with self._lock:
            return any(
                (app, key) in self._denied
                for app in (ANY_APP, client_id.lower())
                for key in user.match_keys()
            )

    def snapshot(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"client_id": app, "mailbox": box} for app, box in sorted(self._denied)]
