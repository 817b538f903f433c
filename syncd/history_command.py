"""`syncd history SALESFORCE_ID`: every change syncd made to one meeting, on either side,
and every change it saw in Outlook, from the meeting history (syncd.ledger.history)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from syncd.config import ConfigError, LoadedConfig
from syncd.domain import Source
from syncd.ledger.db import ensure_migrated, make_engine
from syncd.ledger.history import HistoryEntry, history_of


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(fields: dict[str, Any]) -> list[str]:
    shown = []
    for name, change in fields.items():
        if isinstance(change, list) and len(change) == 2:
            shown.append(f"{name}: {_value(change[0])} -> {_value(change[1])}")
        else:
            shown.append(f"{name}: {_value(change)}")
    return shown


def history_lines(tenant: str, salesforce_id: str, entries: Sequence[HistoryEntry]) -> list[str]:
    """The history as a table: when, side, action, fields old -> new, request id / call."""
    lines = [
        f"tenant {tenant}, Event {salesforce_id}: {len(entries)} entries",
        f"{'when (UTC)':<20} {'side':<10} {'action':<9} what",
    ]
    for entry in entries:
        call = entry.graph_request_id or entry.salesforce_call
        head = f"{entry.at:%Y-%m-%d %H:%M:%S} {entry.side.value:<10} {entry.action.value:<9} "
        details = [*_fields(entry.fields), *([entry.reason] if entry.reason else [])]
        if call:
            details.append(f"request {call}" if entry.graph_request_id else f"Salesforce: {call}")
        lines.append(head + (details[0] if details else ""))
        lines += [" " * len(head) + line for line in details[1:]]
    return lines


def _as_json(tenant: str, salesforce_id: str, entries: Sequence[HistoryEntry]) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "salesforceId": salesforce_id,
        "entries": [
            {
                "at": entry.at.isoformat(),
                "side": entry.side.value,
                "action": entry.action.value,
                "fields": entry.fields,
                "reason": entry.reason,
                "graphRequestId": entry.graph_request_id,
                "salesforceCall": entry.salesforce_call,
            }
            for entry in entries
        ],
    }


def history(
    config: LoadedConfig,
    salesforce_id: str,
    *,
    tenant: str | None,
    as_json: bool,
    out: TextIO,
) -> int:
    """Print one Salesforce Event's meeting history (of `tenant`, or of every tenant that
    has one). Exit 1 when no tenant has any entry for it."""
    if tenant is not None:
        config.tenant(tenant)
    names = [tenant] if tenant else list(config.tenants)
    engine = make_engine(config.database_url)
    try:
        ensure_migrated(engine)
        found = {
            name: entries
            for name in names
            if (entries := history_of(engine, name, Source.SALESFORCE, salesforce_id))
        }
    finally:
        engine.dispose()
    if not found:
        where = f"tenant {tenant}" if tenant else "any tenant"
        raise ConfigError(
            f"no history for Salesforce id {salesforce_id} in {where}: syncd has not synced "
            "this Event (check the id, or `syncd status` for the tenant's failures)"
        )
    if as_json:
        answer = [_as_json(name, salesforce_id, entries) for name, entries in found.items()]
        json.dump(answer if len(answer) > 1 else answer[0], out, indent=2)
        out.write("\n")
        return 0
    for name, entries in found.items():
        out.write("\n".join(history_lines(name, salesforce_id, entries)) + "\n")
    return 0
