"""Ledger tables (SQLModel). Portable SQL only: SQLite and PostgreSQL alike.

All datetimes are aware UTC (sqlmodel rejects naive ones).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class MeetingRecord(SQLModel, table=True):
    """One meeting syncd owns: its intent, its Graph identity and its last state."""

    __tablename__ = "meeting"
    __table_args__ = (UniqueConstraint("tenant", "source", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    source: str = Field(max_length=16)
    external_id: str = Field(max_length=255)
    organizer_email: str = Field(max_length=320)
    #: bumped each time the external id is scheduled afresh after a delete
    generation: int = 0
    transaction_id: str = Field(max_length=64)
    graph_event_id: str | None = Field(default=None, max_length=512)
    change_key: str | None = Field(default=None, max_length=255)
    #: the Graph fields last sent (the base for PATCH diffs)
    sent: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: the Graph fields syncd wants the event to have (equal to `sent` when synced)
    target: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(default="", max_length=64)
    #: the caller's view of the meeting (contract fields), for GET and idempotency
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    responses: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    join_url: str | None = Field(default=None, max_length=2048)
    #: unfinished Graph operation (create/update/cancel/delete) or None
    intent: str | None = Field(default=None, max_length=16)
    status: str = Field(default="pending", index=True, max_length=16)
    last_error_code: str | None = Field(default=None, max_length=64)
    last_error_message: str | None = Field(default=None, max_length=2000)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class Watermark(SQLModel, table=True):
    """How far a feed (e.g. Salesforce Event SystemModstamp) has been read."""

    __tablename__ = "watermark"

    tenant: str = Field(primary_key=True, max_length=64)
    feed: str = Field(primary_key=True, max_length=64)
    value: datetime
    updated_at: datetime


class Tombstone(SQLModel, table=True):
    """An external id whose meeting was deleted, so late writers can tell."""

    __tablename__ = "tombstone"

    tenant: str = Field(primary_key=True, max_length=64)
    source: str = Field(primary_key=True, max_length=16)
    external_id: str = Field(primary_key=True, max_length=255)
    generation: int = 0
    deleted_at: datetime


class ApiClient(SQLModel, table=True):
    """A caller of the Scheduler API, bound to exactly one tenant."""

    __tablename__ = "api_client"

    client_id: str = Field(primary_key=True, max_length=64)
    tenant: str = Field(index=True, max_length=64)
    method: str = Field(max_length=16)  # oauth | hmac
    secret_hash: str | None = Field(default=None, max_length=128)
    #: bumped to rotate a derived HMAC secret
    secret_generation: int = 0
    description: str = Field(default="", max_length=255)
    created_at: datetime
    revoked_at: datetime | None = None


class RefreshToken(SQLModel, table=True):
    """A refresh token, stored only as a hash; rotated on every use."""

    __tablename__ = "refresh_token"

    token_hash: str = Field(primary_key=True, max_length=128)
    client_id: str = Field(index=True, max_length=64)
    tenant: str = Field(max_length=64)
    #: tokens rotated from one another share a family; reuse revokes the family
    family: str = Field(index=True, max_length=64)
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class AccessToken(SQLModel, table=True):
    """A short-lived bearer token, stored only as a hash."""

    __tablename__ = "access_token"

    token_hash: str = Field(primary_key=True, max_length=128)
    client_id: str = Field(index=True, max_length=64)
    tenant: str = Field(max_length=64)
    expires_at: datetime = Field(index=True)


class HmacNonce(SQLModel, table=True):
    """A seen HMAC signature, kept until it is too old to be replayed."""

    __tablename__ = "hmac_nonce"

    signature: str = Field(primary_key=True, max_length=128)
    client_id: str = Field(max_length=64)
    expires_at: datetime = Field(index=True)


class AuthFailure(SQLModel, table=True):
    """Failed credential attempts, for slowing down brute force."""

    __tablename__ = "auth_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, max_length=128)
    at: datetime = Field(index=True)


class MeetingHistory(SQLModel, table=True):
    """One change syncd made to a meeting (in Outlook or the ledger), or one failure.

    Append-only: rows are added in the transaction of the ledger write they describe
    and never changed, so the history of a meeting outlives its ledger row's state.
    """

    __tablename__ = "meeting_history"
    __table_args__ = (Index("ix_meeting_history_meeting", "tenant", "source", "external_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64)
    source: str = Field(max_length=16)
    external_id: str = Field(max_length=255)
    at: datetime
    #: outlook | salesforce | ledger (syncd.domain.HistorySide)
    side: str = Field(max_length=16)
    #: created | updated | cancelled | deleted | failed | adopted | tracked | closed
    action: str = Field(max_length=16)
    #: {field: [old, new]} where known, else {}
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str = Field(default="", max_length=2000)
    graph_request_id: str | None = Field(default=None, max_length=64)
    salesforce_call: str | None = Field(default=None, max_length=255)


class DeltaLink(SQLModel, table=True):
    """Where one organizer mailbox's next calendarView delta round starts.

    The window is the link's own (Graph keeps the range of the round that began it), so
    it is stored with the link: a link whose window no longer covers the sync window is
    dropped and the mailbox read afresh (syncd.ledger.delta_links).
    """

    __tablename__ = "delta_link"

    tenant: str = Field(primary_key=True, max_length=64)
    #: the mailbox address, lower-cased
    mailbox: str = Field(primary_key=True, max_length=320)
    link: str = Field(sa_column=Column(Text, nullable=False))
    window_start: datetime
    window_end: datetime
    updated_at: datetime
    #: events kept for the next sweep ({event id: first seen}, syncd.sync.outlook_pending)
    pending: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
