"""Every route but the token endpoint, health and the documentation needs a credential.

The routes are read off the app itself (not a hand-written list), so a route
added later without the auth dependency fails here. Each is called without a
credential and with a wrong one of each kind; none may answer anything but
401 (with a challenge), and the core must never be called.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.api import create_app
from tests.api.fakes import fake_runtime

from .conftest import Served, core_calls

#: Open by design: the token endpoint (it checks client credentials itself), the
#: health probe, and the offline documentation (no tenant data in any of them).
PUBLIC = {
    ("POST", "/oauth/token"),
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
STATIC_PREFIX = "/static-offline-docs"
#: The operator's pages have a credential of their own and answer like pages (403 while
#: it is not configured, a login redirect for browsers): tests/console/test_operator_auth.py
#: holds every route under these prefixes to that.
OPERATOR_PREFIXES = ("/status", "/metrics")

MEETING_BODY = {
    "id": "m-1",
    "organizerEmail": "jane@contoso.example",
    "subject": "s",
    "body": "b",
    "location": "l",
    "startTime": "2030-10-16T10:00:00Z",
    "endTime": "2030-10-16T11:00:00Z",
    "attendees": [],
}


def _walk(routes: list[Any]) -> Iterator[tuple[str, str]]:
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes") and not hasattr(route, "methods"):
            yield from _walk(list(inner.routes))
            continue
        path = getattr(route, "path", None)
        for method in getattr(route, "methods", None) or ():
            yield method, path


def app_routes(served: Served) -> set[tuple[str, str]]:
    app = create_app(fake_runtime(served.engine))
    return set(_walk(list(app.routes)))


def protected(served: Served) -> list[tuple[str, str]]:
    return sorted(
        route
        for route in app_routes(served)
        if route not in PUBLIC and not route[1].startswith(OPERATOR_PREFIXES)
    )


def test_the_route_list_covers_the_documented_operations(served: Served) -> None:
    routes = app_routes(served)
    document = httpx.get(served.url + "/openapi.json").json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented <= routes
    # The five contract endpoints are all protected.
    assert len([r for r in protected(served) if r[1].startswith("/api/")]) == 5


BAD_CREDENTIALS = {
    "none": {},
    "empty bearer": {"Authorization": "Bearer"},
    "unknown bearer": {"Authorization": "Bearer syat_not-a-token-of-ours-at-all"},
    "unknown scheme": {"Authorization": "Token abc"},
    "basic while legacy is off": {
        "Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()
    },
    "hmac without signature": {"X-Syncd-Client-Id": "hmac_nobody", "X-Syncd-Timestamp": "1"},
    "hmac of nobody": {
        "X-Syncd-Client-Id": "hmac_nobody",
        "X-Syncd-Timestamp": "1700000000",
        "X-Syncd-Signature": "c2lnbmF0dXJl",
    },
}


@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
def test_no_protected_route_answers_without_a_valid_credential(
    serve_app: Any, credential: str
) -> None:
    # A fresh app per credential kind: guessing is slowed down per address, and
    # this test must see the 401s, not the 429 that follows five of them.
    served = serve_app()
    routes = protected(served)
    assert routes
    with served.client() as http:
        for method, path in routes:
            for query, body in (
                ("", b""),  # nothing at all
                ("?id=m-1&from=2030-10-15T00:00:00Z&to=2030-10-16T00:00:00Z", b"{}"),
                ("", json.dumps(MEETING_BODY).encode()),  # a well-formed request
            ):
                answer = http.request(
                    method, path + query, content=body, headers=BAD_CREDENTIALS[credential]
                )
                where = f"{method} {path}{query} with {credential}"
                assert answer.status_code == 401, f"{where}: {answer.status_code} {answer.text}"
                assert answer.json()["errorCode"] == "Unauthorized", where
                assert answer.headers.get("WWW-Authenticate"), where
                served.clock.advance(301)  # keep the guesses apart (see above)
    assert all(not calls for calls in core_calls(served).values())


def test_the_public_routes_answer_without_a_credential(served: Served) -> None:
    with served.client() as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/openapi.json").status_code == 200
        assert http.get("/docs").status_code == 200
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"})
        # Reached the token endpoint's own checks (RFC 6749), not an auth wall.
        assert token.status_code == 400
        assert token.json()["error"] == "invalid_request"
