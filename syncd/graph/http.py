"""The session of the Graph and identity-platform calls: syncd's HTTP session
(syncd.http) with Graph's answers counted and their request-id kept for the log lines."""

from __future__ import annotations

from pathlib import Path

import requests

from syncd.http import POOL_MAXSIZE
from syncd.http import build_session as build_base_session
from syncd.logs import note_graph_request_id
from syncd.metrics.http_hooks import graph_response


def build_session(ca_file: Path | None = None) -> requests.Session:
    """syncd's session (trust, pool, User-Agent) whose every answer is counted
    (syncd.metrics) and whose Graph request-id goes on the log lines."""
    session = build_base_session(ca_file)
    session.hooks["response"] = [graph_response, note_graph_request_id]
    return session


__all__ = ["POOL_MAXSIZE", "build_session"]
