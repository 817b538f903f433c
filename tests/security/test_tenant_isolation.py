"""A credential of one tenant is useless for another.

The tenant of a request is the tenant of its credential and nothing in the
request can name another: for every protected route and each credential kind,
only the credential's own tenant's core is ever called. OAuth clients cannot
swap secrets or refresh tokens across tenants either. (Over the real runtime,
tests/api/test_end_to_end.py shows another tenant's meeting answering
MeetingNotFound.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from syncd.auth import create_client, sign_request

from .conftest import AVAILABILITY, MEETING, WINDOW, Served, bearer, core_calls

DEMO_ORGANIZER = "jane@contoso.example"
MEETING_BODY = {
    "id": "shared-id",
    "organizerEmail": DEMO_ORGANIZER,
    "subject": "demo's meeting",
    "body": "b",
    "location": "l",
    "startTime": "2030-10-16T10:00:00Z",
    "endTime": "2030-10-16T11:00:00Z",
    "attendees": [{"email": "john@contoso.example"}],
}
# Each request names demo's organizer (and demo's meeting id), sent with acme's credential.
REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", MEETING, MEETING_BODY),
    ("PATCH", MEETING, {"id": "shared-id", "organizerEmail": DEMO_ORGANIZER, "subject": "x"}),
    ("GET", f"{MEETING}?id=shared-id&organizerEmail={DEMO_ORGANIZER}", None),
    ("DELETE", MEETING, {"id": "shared-id", "organizerEmail": DEMO_ORGANIZER}),
    ("POST", f"{AVAILABILITY}?{WINDOW}", [{"email": DEMO_ORGANIZER}]),
]


def send_bearer(served: Served, token: str, method: str, path: str, body: Any) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, served.url + path, content=content, headers=headers, timeout=10)


def send_hmac(
    served: Served, creds: dict[str, str], method: str, path: str, body: Any
) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    url = served.url + path
    stamp = int(served.clock().timestamp())
    headers = sign_request(method, url, content, creds["client_id"], creds["secret"], stamp)
    return httpx.request(method, url, content=content, headers=headers, timeout=10)


@pytest.fixture
def with_demo_meeting(served: Served) -> Served:
    """demo has meeting "shared-id"; acme has nothing."""
    answer = send_bearer(served, bearer(served, "demo"), "POST", MEETING, MEETING_BODY)
    assert answer.status_code == 200, answer.text
    served.runtime.schedulers["demo"].calls.clear()
    return served


def test_an_acme_bearer_token_only_ever_reaches_acme(with_demo_meeting: Served) -> None:
    served = with_demo_meeting
    token = bearer(served, "acme")
    for method, path, body in REQUESTS:
        send_bearer(served, token, method, path, body)
    calls = core_calls(served)
    assert calls["demo"] == [], "nothing ran in demo"
    assert len(calls["acme"]) == len(REQUESTS), "every request ran in acme"
    # demo's meeting is as it was.
    assert served.runtime.schedulers["demo"].meetings["shared-id"].subject == "demo's meeting"


def test_an_acme_hmac_signature_only_ever_reaches_acme(with_demo_meeting: Served) -> None:
    served = with_demo_meeting
    creds = create_client(
        served.engine, tenant="acme", method="hmac", master_key=served.runtime.master_key
    )
    for method, path, body in REQUESTS:
        answer = send_hmac(served, creds, method, path, body)
        assert answer.status_code not in (401, 403), answer.text
    calls = core_calls(served)
    assert calls["demo"] == []
    assert len(calls["acme"]) == len(REQUESTS)


def test_a_signature_made_with_one_tenants_secret_fails_for_a_client_of_another(
    served: Served,
) -> None:
    demo = create_client(
        served.engine, tenant="demo", method="hmac", master_key=served.runtime.master_key
    )
    acme = create_client(
        served.engine, tenant="acme", method="hmac", master_key=served.runtime.master_key
    )
    forged = {"client_id": demo["client_id"], "secret": acme["secret"]}
    answer = send_hmac(served, forged, "POST", f"{AVAILABILITY}?{WINDOW}", [{"email": "a@b.c"}])
    assert answer.status_code == 401
    assert all(not calls for calls in core_calls(served).values())


def test_oauth_secrets_and_refresh_tokens_do_not_cross_tenants(
    serve_app: Callable[..., Served],
) -> None:
    served = serve_app()
    demo = create_client(served.engine, tenant="demo", method="oauth", master_key=b"")
    acme = create_client(served.engine, tenant="acme", method="oauth", master_key=b"")
    with served.client() as http:
        crossed_secret = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": acme["client_id"],
                "client_secret": demo["client_secret"],
            },
        )
        assert crossed_secret.status_code == 401
        assert crossed_secret.json()["error"] == "invalid_client"
        crossed_refresh = http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": acme["client_id"],
                "refresh_token": demo["refresh_token"],
            },
        )
        assert crossed_refresh.status_code == 401
        assert crossed_refresh.json()["error"] == "invalid_client"
        # Neither attempt spent or revoked demo's own refresh token.
        own = http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": demo["client_id"],
                "refresh_token": demo["refresh_token"],
            },
        )
        assert own.status_code == 200, own.text


def test_an_access_token_is_bound_to_its_tenant_not_to_the_organizer_named(
    with_demo_meeting: Served,
) -> None:
    served = with_demo_meeting
    token = bearer(served, "acme")
    # Even the body's organizer from demo's domain cannot move the request to demo.
    answer = send_bearer(served, token, "GET", f"{MEETING}?id=shared-id", None)
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "MeetingNotFound"
    assert core_calls(served)["demo"] == []
