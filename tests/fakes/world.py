"""The one place a world is built: a tenant, a ledger, the fakes, the Scheduler and the sync.

Every test on the fakes gets its world from `build_world`, so a change to how the
Scheduler or SyncService are constructed is made here and nowhere else.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from syncd.config import TenantConfig
from syncd.core.scheduler import Scheduler
from syncd.domain import Source
from syncd.ledger.db import make_engine, upgrade
from syncd.ledger.models import MeetingRecord
from syncd.sandbox.clock import SandboxClock
from syncd.sync.service import SyncService
from tests.fakes.graph import MemoryGraph
from tests.fakes.salesforce import MemorySalesforce
from tests.support import suite_now

TENANT = "fakes"
DOMAIN = "fakes.example"
ORGANIZER = f"olivia.organizer@{DOMAIN}"
OTHER_ORGANIZER = f"oscar.owner@{DOMAIN}"
COLLEAGUE = f"carl.colleague@{DOMAIN}"
OTHER_COLLEAGUE = f"cora.coworker@{DOMAIN}"
#: An in-org user without an Exchange mailbox.
NO_MAILBOX = f"nina.nomail@{DOMAIN}"
PEOPLE = (ORGANIZER, OTHER_ORGANIZER, COLLEAGUE, OTHER_COLLEAGUE)
GRAPH_WRITES = ("create_event", "update_event", "cancel_event", "delete_event")


@functools.cache
def _shared_engine() -> Engine:
    """One migrated ledger per test process. SQLAlchemy caches compiled statements per
    engine: a fresh engine per world spent most of a sync test compiling SQL again."""
    directory = Path(tempfile.mkdtemp(prefix="syncd-fakes-ledger-"))
    atexit.register(shutil.rmtree, directory, True)
    url = f"sqlite:///{directory / 'syncd.db'}"
    upgrade(url)
    engine = make_engine(url)
    atexit.register(engine.dispose)  # runs before the directory goes (last in, first out)
    return engine


def ledger_engine() -> Engine:
    """The process's ledger, emptied: every table but the migration stamp."""
    engine = _shared_engine()
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    return engine


@dataclass
class FakeWorld:
    """One tenant over MemoryGraph and MemorySalesforce, with helpers to look at both sides."""

    tenant: TenantConfig
    clock: SandboxClock
    engine: Engine
    graph: MemoryGraph
    salesforce: MemorySalesforce
    scheduler: Scheduler
    service: SyncService
    user_ids: dict[str, str] = field(default_factory=dict)
    workers: int = 4

    def restart(self) -> None:
        """A new process over the same ledger, calendars and org (after a crash): a fresh
        Scheduler and SyncService, and the Scheduler's start-up resume of open intents."""
        self.scheduler, self.service = wire(
            self.tenant, self.engine, self.graph, self.salesforce, self.clock, self.workers
        )
        self.scheduler.resume()

    @property
    def org(self) -> Any:
        return self.salesforce.org

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)

    def meeting_start(self, days: int = 1, hour: int = 15) -> datetime:
        day = self.now() + timedelta(days=days)
        return day.replace(hour=hour, minute=0, second=0, microsecond=0)

    def create_event(self, owner: str = ORGANIZER, **kwargs: Any) -> str:
        start = kwargs.pop("start", None) or self.meeting_start()
        kwargs.setdefault("end", start + timedelta(minutes=45))
        kwargs.setdefault("subject", "Quarterly review")
        return str(self.org.create_event(owner, start=start, **kwargs))

    def graph_writes(self) -> int:
        return self.graph.faults.count(*GRAPH_WRITES)

    def record(self, event_id: str) -> MeetingRecord | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == TENANT,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    MeetingRecord.external_id == event_id,
                )
            ).first()

    def records(self) -> list[MeetingRecord]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(select(MeetingRecord)).all())

    def outlook_id(self, event_id: str) -> str | None:
        return self.org.record(event_id).get("Outlook_Event_Id__c")

    def meeting(self, event_id: str, mailbox: str = ORGANIZER) -> dict[str, Any]:
        graph_id = self.outlook_id(event_id)
        assert graph_id, f"Event {event_id} has no Outlook id written back"
        return self.graph.get_event(mailbox, graph_id)


def tenant_config(**policy: Any) -> TenantConfig:
    return TenantConfig.model_validate(
        {"name": TENANT, "provider": "sandbox", "mail_domains": [DOMAIN], "policy": policy}
    )


def build_world(
    *,
    tenant: TenantConfig | None = None,
    people: Iterable[str] = PEOPLE,
    workers: int = 4,
) -> FakeWorld:
    """A fresh world: a frozen clock at suite_now(), both fakes with `people` in them (each
    has a Salesforce User and a mailbox; NO_MAILBOX a User and no mailbox), a ledger."""
    clock = SandboxClock(start=suite_now())
    clock.freeze()
    tenant = tenant or tenant_config()
    graph = MemoryGraph(clock.now)
    salesforce = MemorySalesforce(clock)
    user_ids = {}
    for address in people:
        graph.add_user(address)
        user_ids[address] = salesforce.org.add_user(address)
    graph.add_user(NO_MAILBOX, has_mailbox=False)
    user_ids[NO_MAILBOX] = salesforce.org.add_user(NO_MAILBOX)
    engine = ledger_engine()
    scheduler, service = wire(tenant, engine, graph, salesforce, clock, workers)
    return FakeWorld(
        tenant, clock, engine, graph, salesforce, scheduler, service, user_ids, workers
    )


def wire(
    tenant: TenantConfig,
    engine: Engine,
    graph: MemoryGraph,
    salesforce: MemorySalesforce,
    clock: SandboxClock,
    workers: int,
) -> tuple[Scheduler, SyncService]:
    """The Scheduler and the SyncService over the fakes: the only constructor calls."""
    scheduler = Scheduler(tenant, engine, graph, clock=clock.now)
    service = SyncService(
        tenant, scheduler, salesforce, graph, engine, clock=clock.now, workers=workers
    )
    return scheduler, service
