"""A seeded stream of the changes organizers make in Outlook to synced meetings, for the
reliability tests: moves, edits of subject and location, deletions and cancellations,
through Graph (tests/outlook_organizer.py), on a set of meetings reserved up front so
the Salesforce editor (world.Editor, `spare`) leaves their Events alone."""

from __future__ import annotations

import random
from datetime import timedelta

from syncd.sandbox.microsoft.calendar import StoredEvent
from tests.harness import World
from tests.outlook_organizer import Change, Organizer
from tests.reliability.outlook_checks import salesforce_id_of


class OutlookEditor:
    """Changes `meetings` synced meetings (chosen with `seed` among the live, timed,
    single ones) in Outlook; `apply(n)` makes n more changes."""

    KINDS = ("move", "edit", "delete", "cancel")
    WEIGHTS = (4, 4, 1, 1)

    def __init__(self, world: World, *, seed: int, meetings: int) -> None:
        self.rng = random.Random(seed)
        self.organizer = Organizer(world.sandbox, world.tenant_name)
        candidates = [
            (event, salesforce_id_of(event, world.tenant_name))
            for event in _organized(world)
            if not event.is_all_day and event.recurrence is None
        ]
        chosen = self.rng.sample(sorted((e.id, e, i) for e, i in candidates if i), meetings)
        #: Graph id -> Salesforce Event id of every reserved meeting
        self.targets = {graph_id: event_id for graph_id, _, event_id in chosen}
        self._live = {graph_id: event for graph_id, event, _ in chosen}
        self._edits = 0

    @property
    def reserved(self) -> frozenset[str]:
        """The Salesforce Events of the reserved meetings."""
        return frozenset(self.targets.values())

    @property
    def changes(self) -> list[Change]:
        return self.organizer.changes

    @property
    def removed(self) -> frozenset[str]:
        """Events whose meeting was deleted or cancelled in Outlook."""
        gone = {c.event_id for c in self.changes if c.kind in ("deleted", "cancelled")}
        return frozenset(self.targets[g] for g in gone)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for change in self.changes:
            found[change.kind] = found.get(change.kind, 0) + 1
        return found

    def apply(self, count: int) -> None:
        for _ in range(count):
            if not self._live:
                return
            graph_id = self.rng.choice(sorted(self._live))
            event = self._live[graph_id]
            kind = self.rng.choices(self.KINDS, self.WEIGHTS)[0]
            mailbox = event.owner_email
            if kind == "move":
                hours = self.rng.choice((-2, -1, 1, 3, 24))
                self.organizer.move(mailbox, graph_id, timedelta(hours=hours))
            elif kind == "edit":
                self._edits += 1
                self.organizer.edit(
                    mailbox,
                    graph_id,
                    subject=f"{event.subject} (Outlook {self._edits})",
                    location=self.rng.choice(("Room 2.10", "Lobby", "Cafe")),
                )
            elif kind == "delete":
                self.organizer.delete(mailbox, graph_id)
                del self._live[graph_id]
            else:
                self.organizer.cancel(mailbox, graph_id, "Called off")
                del self._live[graph_id]

    def close(self) -> None:
        self.organizer.close()


def _organized(world: World) -> list[StoredEvent]:
    found = []
    for user in world.sandbox.tenant(world.tenant_name).users:
        if user.has_mailbox:
            found += world.sandbox.calendars.events(
                user.id, lambda e: e.is_organizer and not e.is_cancelled
            )
    return found
