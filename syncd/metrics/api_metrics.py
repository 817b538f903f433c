"""Latency of the Scheduler API by route template (the API middleware calls `observe`).

The route is the template FastAPI matched (`/api/meeting/{meeting_id}`), never the
raw path: a path carries ids, and each distinct one would be a new time series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.metrics import definitions as m

#: Requests that matched no route (404s, scanners) share one label value.
UNMATCHED = "unmatched"


def route_of(scope: Mapping[str, Any]) -> str:
    """The template of the route that served the request, else UNMATCHED."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def observe(scope: Mapping[str, Any], status: int, seconds: float) -> None:
    m.API_LATENCY.labels(str(scope.get("method", "")), route_of(scope), str(status)).observe(
        max(0.0, seconds)
    )
