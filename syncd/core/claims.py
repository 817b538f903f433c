"""Claiming a create: the intent is committed to the ledger before the Graph call.

The same external id with the same content is the same meeting (idempotency); other
content under a live id is refused. A create that may already have reached Graph keeps
its generation, and so its transactionId, so that Graph deduplicates it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.domain import ErrorCode, Intent, Meeting, MeetingStatus, Source, SyncdError
from syncd.ledger.models import MeetingRecord
from syncd.ledger.repository import ClaimLost, MeetingRepository


def claim_create(
    ledger: MeetingRepository,
    tenant: TenantConfig,
    clock: Callable[[], datetime],
    meeting: Meeting,
    request: dict[str, Any],
    source: Source,
    *,
    replace: bool = False,
    queued: bool = False,
) -> tuple[MeetingRecord, bool]:
    """Record the intent to create, or return the existing meeting (idempotency).

    Also says whether a create of this generation may already have reached Graph
    (an earlier attempt was claimed and never completed): then the create looks
    for the stamped event before it POSTs. `replace`: a row that never reached
    Outlook, or failed, is claimed afresh (the source of truth says what it is now).
    `queued`: the create is sent later by another (Intent.QUEUED), unless an earlier
    attempt may have reached Graph.
    """
    try:
        return ledger.claim(
            source,
            meeting.external_id,
            lambda record: decide(
                record, tenant, clock, meeting, request, source, replace, queued=queued
            ),
        )
    except ClaimLost:
        raise SyncdError(
            ErrorCode.MEETING_ALREADY_EXISTS,
            f"meeting '{meeting.external_id}' is being scheduled by another request",
        ) from None


def decide(
    record: MeetingRecord | None,
    tenant: TenantConfig,
    clock: Callable[[], datetime],
    meeting: Meeting,
    request: dict[str, Any],
    source: Source,
    replace: bool,
    *,
    queued: bool = False,
) -> tuple[MeetingRecord, bool]:
    """The row to store for a create of `meeting` (or `record` as it is), and whether a
    create of this generation may already have reached Graph. `queued`: claim it as
    Intent.QUEUED when nothing of this generation can have reached Graph."""
    unsent = record is not None and record.graph_event_id is None
    if (
        record is not None
        and record.status != MeetingStatus.CANCELLED
        and not (replace and (unsent or record.status == MeetingStatus.FAILED))
    ):
        if record.request == request:
            # A queued create was never sent: nothing to look for.
            return record, record.intent == Intent.CREATE
        if record.organizer_email.casefold() != meeting.organizer_email.casefold():
            raise SyncdError(
                ErrorCode.MEETING_ALREADY_EXISTS,
                f"meeting '{meeting.external_id}' already exists for another "
                "organizer; use another id or delete it first",
            )
        raise SyncdError(
            ErrorCode.MEETING_ALREADY_EXISTS,
            f"meeting '{meeting.external_id}' already exists with other "
            "content; use PATCH to change it or another id",
        )
    # Nothing may have reached Graph yet: keep the generation (and so
    # the transactionId) so a create that did land is deduplicated.
    retry = False
    if record is None:
        generation = 0
    elif record.graph_event_id is None and record.status != MeetingStatus.CANCELLED:
        generation = record.generation
        # A create was claimed before and may have been sent (a queued one was not).
        retry = bool(record.transaction_id) and record.intent != Intent.QUEUED
    else:
        generation = record.generation + 1
    claimed = claim_fields(tenant, clock, meeting, request, source, generation)
    if queued and not retry:
        claimed["intent"] = Intent.QUEUED.value
    if record is None:
        # Made with every field at once: setting them one by one on a new row cost more
        # than the rest of the claim (each set goes through the ORM's instrumentation).
        record = MeetingRecord(
            tenant=tenant.name,
            source=str(source),
            external_id=meeting.external_id,
            created_at=claimed["updated_at"],
            **claimed,
        )
    else:
        for name, value in claimed.items():
            setattr(record, name, value)
    return record, retry


def claim_fields(
    tenant: TenantConfig,
    clock: Callable[[], datetime],
    meeting: Meeting,
    request: dict[str, Any],
    source: Source,
    generation: int,
) -> dict[str, Any]:
    """The fields of a row that claims the create of `meeting` in `generation` (all but
    its key and created_at): the intent, the transactionId, the content to send."""
    content = em.event_content(meeting, teams_keyword=tenant.policy.teams_keyword)
    return {
        "organizer_email": meeting.organizer_email,
        "generation": generation,
        "transaction_id": em.transaction_id(tenant.name, source, meeting.external_id, generation),
        "graph_event_id": None,
        "change_key": None,
        "join_url": None,
        "request": request,
        "target": content,
        "sent": {},
        "content_hash": em.content_hash(content),
        "responses": {},
        "intent": Intent.CREATE.value,
        "status": MeetingStatus.PENDING.value,
        "last_error_code": None,
        "last_error_message": None,
        "attempts": 0,
        "next_attempt_at": None,
        "updated_at": clock(),
    }
