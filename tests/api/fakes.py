"""A stand-in scheduler and runtime for wire-shape tests (no Graph, no sandbox).

Only the API's parsing and shaping is under test with these; the end-to-end
tests run against the real runtime.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from syncd.config import LoadedConfig, Settings, TenantConfig
from syncd.domain import (
    Availability,
    ErrorCode,
    Meeting,
    MeetingChanges,
    ResponseStatus,
    Slot,
    SyncdError,
)
from syncd.ledger.db import make_engine, upgrade
from tests import store_routing as store_testing
from tests.support import ThreadedServer

TEAMS_URL = "https://teams.example/l/meetup-join/abc"


@dataclass
class FakeScheduler:
    """Keeps meetings in a dict; `fail_with` makes the next call raise it."""

    meetings: dict[str, Meeting] = field(default_factory=dict)
    calls: list[tuple[str, Any, str | None]] = field(default_factory=list)
    fail_with: BaseException | None = None

    def _enter(self, name: str, arg: Any, correlation_id: str | None) -> None:
        self.calls.append((name, arg, correlation_id))
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error

    def schedule(self, meeting: Meeting, *, correlation_id: str | None = None) -> Meeting:
        self._enter("schedule", meeting, correlation_id)
        if meeting.location == "MS Teams":
            meeting = replace(meeting, join_url=TEAMS_URL)
        self.meetings[meeting.external_id] = meeting
        return meeting

    def update(
        self,
        external_id: str,
        organizer_email: str,
        changes: MeetingChanges,
        *,
        correlation_id: str | None = None,
    ) -> Meeting:
        self._enter("update", changes, correlation_id)
        meeting = self._find(external_id)
        updated = replace(
            meeting,
            subject=changes.subject if changes.subject is not None else meeting.subject,
            attendees=changes.attendees if changes.attendees is not None else meeting.attendees,
        )
        self.meetings[external_id] = updated
        return updated

    def cancel(
        self, external_id: str, organizer_email: str, *, correlation_id: str | None = None
    ) -> None:
        self._enter("cancel", external_id, correlation_id)
        self._find(external_id)
        del self.meetings[external_id]

    def get(
        self, external_id: str, organizer_email: str, *, correlation_id: str | None = None
    ) -> Meeting:
        self._enter("get", external_id, correlation_id)
        meeting = self._find(external_id)
        attendees = tuple(replace(a, response=ResponseStatus.ACCEPTED) for a in meeting.attendees)
        return replace(meeting, attendees=attendees)

    def availability(
        self,
        emails: list[str],
        start: datetime,
        end: datetime,
        *,
        max_graph_requests: int | None = None,
        correlation_id: str | None = None,
    ) -> list[Availability]:
        self._enter("availability", (list(emails), start, end), correlation_id)
        answers = []
        for email in emails:
            if email.endswith("@fabrikam.example"):
                answers.append(
                    Availability(
                        email,
                        ErrorCode.EXTERNAL_USER_NOT_SUPPORTED,
                        error_message="not in this organization",
                    )
                )
            else:
                answers.append(Availability(email, slots=(Slot(start, end),)))
        return answers

    def _find(self, external_id: str) -> Meeting:
        if external_id not in self.meetings:
            raise SyncdError(ErrorCode.MEETING_NOT_FOUND, f"no meeting '{external_id}'")
        return self.meetings[external_id]


@dataclass
class FakeRuntime:
    """Has the attributes of syncd.runtime.Runtime that the API uses."""

    config: LoadedConfig
    engine: Engine
    master_key: bytes
    clock: Callable[[], datetime]
    schedulers: dict[str, FakeScheduler]

    def scheduler(self, tenant: str) -> FakeScheduler:
        return self.schedulers[tenant]

    def broken_tenants(self) -> dict[str, str]:
        return {}


def tenant(name: str, domain: str, **api: Any) -> TenantConfig:
    return TenantConfig.model_validate(
        {"name": name, "provider": "sandbox", "mail_domains": [domain], "api": api}
    )


def migrated_copy(template: Path, target: Path) -> Engine:
    """A fresh ledger for one test, copied from a migrated template (faster than alembic).

    In the PostgreSQL run (tests/store_routing.py) there is no file to copy: the
    target's own schema is migrated instead.
    """
    if store_testing.active():
        upgrade(store_testing.routed(f"sqlite:///{target}"))
    else:
        shutil.copyfile(template, target)
    return make_engine(store_testing.routed(f"sqlite:///{target}"))


def migrate_template(path: Path) -> Path:
    upgrade(f"sqlite:///{path}")
    return path


class MutableClock:
    """A clock the test moves by hand; starts at the real now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fake_runtime(
    engine: Engine, *tenants: TenantConfig, clock: Callable[[], datetime] | None = None
) -> FakeRuntime:
    tenants = tenants or (tenant("demo", "contoso.example"),)
    config = LoadedConfig(
        path=Path("test.toml"), settings=Settings(), tenants={t.name: t for t in tenants}
    )
    return FakeRuntime(
        config=config,
        engine=engine,
        master_key=b"m" * 48,
        clock=clock or (lambda: datetime.now(UTC)),
        schedulers={t.name: FakeScheduler() for t in tenants},
    )


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a thread; yields its URL."""
    server = ThreadedServer(app)
    try:
        yield server.url
    finally:
        server.stop()
