"""How invited attendees answer: a seeded, deterministic choice that shows up after a delay.

Graph reports an attendee's answer in `attendees[].status {response, time}` on the
organizer's copy and in `responseStatus` on the attendee's own copy:
https://learn.microsoft.com/en-us/graph/api/resources/attendee
https://learn.microsoft.com/en-us/graph/api/resources/responsestatus
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

ACCEPTED = "accepted"
TENTATIVE = "tentativelyAccepted"
DECLINED = "declined"
NOT_RESPONDED = "notResponded"
CHOICES = (ACCEPTED, TENTATIVE, DECLINED, NOT_RESPONDED)


@dataclass
class AnswerPolicy:
    """Weights of each answer (need not sum to 1) and how long attendees take."""

    accepted: float = 0.6
    tentatively_accepted: float = 0.15
    declined: float = 0.15
    not_responded: float = 0.1
    delay_seconds: float = 0.0

    def weights(self) -> tuple[float, float, float, float]:
        return (self.accepted, self.tentatively_accepted, self.declined, self.not_responded)


@dataclass(frozen=True)
class Invite:
    """One invitation of one attendee and the answer it will get.

    The answer is drawn when the invitation goes out (with the policy then in
    force) and shows from `answer_at` on. A new round starts whenever the
    organizer moves the meeting: invitations go out again, earlier answers lapse.
    """

    invited_at: datetime
    round: int = 0
    choice: str = NOT_RESPONDED
    answer_at: datetime | None = None


@dataclass(frozen=True)
class Answer:
    """What an attendee has answered so far; `response` is None until they answer."""

    response: str | None
    time: datetime | None


class AttendeeAnswers:
    """Draws each answer from hash(seed, meeting key, round, address) with the policy's weights."""

    def __init__(self, seed: int = 42, policy: AnswerPolicy | None = None) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._policy = policy or AnswerPolicy()

    @property
    def policy(self) -> AnswerPolicy:
        with self._lock:
            return AnswerPolicy(**asdict(self._policy))

    def configure(self, **settings: Any) -> None:
        """Change weights (accepted=..., declined=...) or delay_seconds."""
        with self._lock:
            merged = {**asdict(self._policy), **settings}
            unknown = set(merged) - set(asdict(AnswerPolicy()))
            if unknown:
                raise ValueError(f"unknown answer settings: {sorted(unknown)}")
            policy = AnswerPolicy(**{k: float(v) for k, v in merged.items()})
            if min(policy.weights()) < 0 or sum(policy.weights()) <= 0:
                raise ValueError("answer weights must be >= 0 and not all zero")
            self._policy = policy

    def reset(self) -> None:
        with self._lock:
            self._policy = AnswerPolicy()

    def decide(self, meeting_key: str, address: str, round_: int) -> str:
        """The answer this attendee gives in this round (one of CHOICES)."""
        text = f"{self._seed}|{meeting_key}|{round_}|{address.strip().lower()}"
        digest = hashlib.sha256(text.encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        weights = self.policy.weights()
        threshold = point * sum(weights)
        for choice, weight in zip(CHOICES, weights, strict=True):
            if threshold < weight:
                return choice
            threshold -= weight
        return NOT_RESPONDED

    def invite(self, meeting_key: str, address: str, round_: int, now: datetime) -> Invite:
        """Send an invitation now: its answer and when it shows are fixed here."""
        delay = timedelta(seconds=self.policy.delay_seconds)
        return Invite(now, round_, self.decide(meeting_key, address, round_), now + delay)

    @staticmethod
    def answer(invite: Invite, now: datetime) -> Answer:
        """The answer visible at `now`: none before answer_at, then the drawn choice."""
        if invite.answer_at is None or now < invite.answer_at or invite.choice == NOT_RESPONDED:
            return Answer(None, None)
        return Answer(invite.choice, invite.answer_at)
