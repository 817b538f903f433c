"""Seeded identifiers in Exchange's shapes (event ids, change keys, iCalUIds, Teams links)."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import threading
import uuid
from urllib.parse import quote


class IdFactory:
    """Seeded generator: the same seed and the same sequence of calls give the same ids."""

    def __init__(self, seed: int = 42) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._rng = random.Random(f"ids|{seed}")

    def _bytes(self, count: int) -> bytes:
        with self._lock:
            return self._rng.randbytes(count)

    def event_id(self) -> str:
        # Exchange ids are URL-safe base64 starting "AAMkA" and ending "AAA=".
        return "AAMkA" + base64.urlsafe_b64encode(self._bytes(33)).decode() + "AAA="

    def change_key(self) -> str:
        return base64.b64encode(self._bytes(22)).decode()

    def ical_uid(self) -> str:
        return "040000008200E00074C5B7101A82E00800000000" + self._bytes(28).hex().upper()

    def teams_join_url(self, meeting_key: str, tenant_id: str, organizer_id: str) -> str:
        """A Teams meetup-join link, deterministic from the seed and the meeting key.

        Shape as in https://learn.microsoft.com/en-us/graph/api/event-update
        (onlineMeeting.joinUrl in the example response).
        """
        digest = hashlib.sha256(f"{self._seed}|join|{meeting_key}".encode()).digest()
        thread = base64.b64encode(str(uuid.UUID(bytes=digest[:16])).encode()).decode()
        context = quote(f'{{"Tid":"{tenant_id}","Oid":"{organizer_id}"}}', safe="")
        # quote() writes %7B; Teams links use lower-case escapes (%7b, %22).
        context = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), context)
        return (
            f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0"
            f"?context={context}"
        )
