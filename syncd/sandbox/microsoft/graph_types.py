"""The request and response shapes passed through the Graph pipeline (HTTP and $batch alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.sandbox.microsoft.directory import DirectoryUser
from syncd.sandbox.microsoft.identity import IssuedToken
from syncd.sandbox.microsoft.state import MicrosoftState


@dataclass
class GraphRequest:
    """One Graph call: path relative to /v1.0, single-valued query, lower-cased headers."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    base_url: str = ""
    inner: bool = False
    malformed_body: bool = False


@dataclass
class GraphResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HandlerContext:
    """What a route handler gets: the state, the call, the caller, the addressed user."""

    state: MicrosoftState
    request: GraphRequest
    token: IssuedToken
    user: DirectoryUser | None
    params: dict[str, str]
    now: datetime
    prefer: dict[str, str]
