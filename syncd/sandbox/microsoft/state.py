"""Everything the Microsoft side of the sandbox keeps, wired together once."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.faults import Faults
from syncd.sandbox.microsoft.access_policy import AccessPolicy
from syncd.sandbox.microsoft.answers import AttendeeAnswers
from syncd.sandbox.microsoft.calendar import EventStore
from syncd.sandbox.microsoft.delta_tokens import DeltaTokens
from syncd.sandbox.microsoft.directory import Directory
from syncd.sandbox.microsoft.identity import IdentityProvider
from syncd.sandbox.microsoft.ids import IdFactory
from syncd.sandbox.microsoft.throttle import Throttle
from syncd.sandbox.stats import Counters

# https://learn.microsoft.com/en-us/graph/outlook-get-free-busy-schedule ("up to 20 entities")
SCHEDULE_LIMIT = 20
# https://learn.microsoft.com/en-us/graph/json-batching ("limited to 20 individual requests")
BATCH_LIMIT = 20


@dataclass
class MicrosoftState:
    """The directory, identity, calendars and the knobs that shape how Graph answers."""

    seed: int
    clock: SandboxClock
    directory: Directory
    faults: Faults
    counters: Counters
    identity: IdentityProvider
    throttle: Throttle
    answers: AttendeeAnswers
    calendars: EventStore
    access_policy: AccessPolicy
    #: calendarView delta state tokens (microsoft.delta_tokens)
    delta: DeltaTokens = field(default_factory=DeltaTokens)
    schedule_limit: int = SCHEDULE_LIMIT
    batch_limit: int = BATCH_LIMIT


def build_state(
    *,
    seed: int,
    clock: SandboxClock,
    directory: Directory,
    faults: Faults | None = None,
    counters: Counters | None = None,
) -> MicrosoftState:
    """Wire the components; invitations reach any sandbox mailbox by address."""
    faults = faults or Faults(seed)
    counters = counters or Counters()
    answers = AttendeeAnswers(seed)
    return MicrosoftState(
        seed=seed,
        clock=clock,
        directory=directory,
        faults=faults,
        counters=counters,
        identity=IdentityProvider(directory, clock, faults, counters),
        throttle=Throttle(clock),
        answers=answers,
        calendars=EventStore(IdFactory(seed), directory.find_by_email, answers.invite),
        access_policy=AccessPolicy(),
        delta=DeltaTokens(seed),
    )
