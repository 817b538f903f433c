"""Meeting history entries the core appends with its ledger writes (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.domain import HistoryAction, HistorySide, SyncdError
from syncd.graph.correlation import client_request_id, current_correlation_id
from syncd.ledger.repository import Note


def request_id(correlation_id: str | None) -> str | None:
    """The Graph client-request-id a call with this correlation id carries (None when the
    call has no correlation id: the client then sends a fresh one nobody can know)."""
    correlation = current_correlation_id(correlation_id)
    return client_request_id(correlation) if correlation is not None else None


def changes(before: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} of a PATCH against what Outlook held."""
    return {name: [before.get(name), value] for name, value in patch.items()}


def outlook(
    action: HistoryAction,
    reason: str,
    correlation_id: str | None,
    fields: dict[str, Any] | None = None,
) -> Note:
    """A change made in Outlook."""
    return Note(
        action,
        HistorySide.OUTLOOK,
        fields or {},
        reason,
        graph_request_id=request_id(correlation_id),
    )


def failed(
    error: SyncdError,
    old_code: str | None,
    *,
    side: HistorySide = HistorySide.OUTLOOK,
    correlation_id: str | None = None,
    salesforce_call: str | None = None,
) -> Note:
    """A failure the core recorded (Graph refused, or the record cannot be synced)."""
    return Note(
        HistoryAction.FAILED,
        side,
        {"last_error_code": [old_code, error.code.value]},
        error.message,
        graph_request_id=request_id(correlation_id) if side == HistorySide.OUTLOOK else None,
        salesforce_call=salesforce_call,
    )


def writeback_refused(reason: str, old_code: str | None) -> Note:
    """Salesforce refused the write-back of a meeting that is right in Outlook."""
    return Note(
        HistoryAction.FAILED,
        HistorySide.SALESFORCE,
        {"last_error_code": [old_code, "WritebackRefused"]},
        reason,
        salesforce_call="update Event (sObject Collections)",
    )
