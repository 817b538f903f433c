"""OAuth 2.0 over HTTP: grants, rotation, reuse detection, expiry, brute-force slow-down."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx

from syncd.auth import create_client, revoke_client
from syncd.auth.tokens import hash_secret
from syncd.ledger.db import session_scope
from syncd.ledger.models import AccessToken

from .conftest import AVAILABILITY, WINDOW, Served

BODY = b'[{"email": "jane@contoso.example"}]'


def oauth_client(served: Served, tenant: str = "demo") -> dict[str, str]:
    return create_client(
        served.runtime.engine, tenant=tenant, method="oauth", master_key=b"", clock=served.clock
    )


def refresh(http: httpx.Client, client_id: str, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token}
    return http.post("/oauth/token", data=form)


def call_api(http: httpx.Client, access_token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {access_token}"}
    return http.post(f"{AVAILABILITY}?{WINDOW}", content=BODY, headers=headers)


def assert_oauth_error(answer: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error
    assert body["error_description"]
    assert answer.headers["Cache-Control"] == "no-store"
    return body


def test_refresh_grant_gives_a_bearer_token_and_a_new_refresh_token(served: Served) -> None:
    created = oauth_client(served)
    with served.client() as http:
        answer = refresh(http, created["client_id"], created["refresh_token"])
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        tokens = answer.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 900
        assert tokens["refresh_token"] != created["refresh_token"]
        assert call_api(http, tokens["access_token"]).status_code == 200


def test_rotation_spends_the_old_token_and_reuse_revokes_the_family(served: Served) -> None:
    created = oauth_client(served)
    with served.client() as http:
        first = refresh(http, created["client_id"], created["refresh_token"]).json()
        # The spent token is refused, and its reuse revokes everything issued from it.
        body = assert_oauth_error(
            refresh(http, created["client_id"], created["refresh_token"]), 400, "invalid_grant"
        )
        assert "already used" in body["error_description"]
        answer = refresh(http, created["client_id"], first["refresh_token"])
        assert "revoked" in assert_oauth_error(answer, 400, "invalid_grant")["error_description"]
        assert call_api(http, first["access_token"]).status_code == 401


def test_a_refresh_token_belongs_to_its_client(served: Served) -> None:
    mine, theirs = oauth_client(served), oauth_client(served)
    with served.client() as http:
        answer = refresh(http, theirs["client_id"], mine["refresh_token"])
        # Another client's token proves nothing about this client: invalid_client.
        assert_oauth_error(answer, 401, "invalid_client")


def test_client_credentials_by_form_basic_or_json(served: Served) -> None:
    created = oauth_client(served)
    client_id, secret = created["client_id"], created["client_secret"]
    with served.client() as http:
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        by_form = http.post("/oauth/token", data=form)
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        by_basic = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        by_json = http.post("/oauth/token", json=form)
        for answer in (by_form, by_basic, by_json):
            assert answer.status_code == 200, answer.text
            assert "refresh_token" not in answer.json()  # RFC 6749 §4.4.3
            assert call_api(http, answer.json()["access_token"]).status_code == 200


def test_token_endpoint_errors_follow_rfc_6749(served: Served) -> None:
    created = oauth_client(served)
    client_id = created["client_id"]
    with served.client() as http:
        wrong = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
        answer = http.post("/oauth/token", data=wrong)
        assert_oauth_error(answer, 401, "invalid_client")
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
        answer = http.post("/oauth/token", data={"grant_type": "password", "client_id": client_id})
        assert_oauth_error(answer, 400, "unsupported_grant_type")
        assert_oauth_error(
            http.post("/oauth/token", data={"client_id": client_id}), 400, "invalid_request"
        )
        assert_oauth_error(
            http.post("/oauth/token", data={"grant_type": "refresh_token"}), 400, "invalid_request"
        )
        answer = http.post(
            "/oauth/token", content=b"grant_type=refresh_token&grant_type=x&client_id=a"
        )
        assert_oauth_error(answer, 400, "invalid_request")
        assert http.get("/oauth/token").status_code == 405


def test_an_expired_access_token_is_refused_with_a_bearer_challenge(served: Served) -> None:
    created = oauth_client(served)
    with served.client() as http:
        tokens = refresh(http, created["client_id"], created["refresh_token"]).json()
        served.clock.advance(tokens["expires_in"] + 1)
        answer = call_api(http, tokens["access_token"])
        assert answer.status_code == 401
        assert answer.json()["errorCode"] == "Unauthorized"
        assert "expired" in answer.json()["errorMessage"]
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
        # The refresh token outlives it and gets a new one.
        again = refresh(http, created["client_id"], tokens["refresh_token"]).json()
        assert call_api(http, again["access_token"]).status_code == 200


def test_an_expired_refresh_token_is_refused(served: Served) -> None:
    created = oauth_client(served)
    served.clock.advance(91 * 86_400)
    with served.client() as http:
        answer = refresh(http, created["client_id"], created["refresh_token"])
        assert "expired" in assert_oauth_error(answer, 400, "invalid_grant")["error_description"]


def test_a_revoked_client_loses_its_tokens(served: Served) -> None:
    created = oauth_client(served)
    with served.client() as http:
        tokens = refresh(http, created["client_id"], created["refresh_token"]).json()
        assert revoke_client(served.runtime.engine, created["client_id"])
        assert call_api(http, tokens["access_token"]).status_code == 401
        answer = refresh(http, created["client_id"], tokens["refresh_token"])
        # The caller holds a token issued to the client, so it is told why.
        body = assert_oauth_error(answer, 401, "invalid_client")
        assert "revoked" in body["error_description"]


def test_a_tenant_without_oauth_says_which_methods_it_accepts(served: Served) -> None:
    created = oauth_client(served, tenant="nooauth")
    with served.client() as http:
        answer = refresh(http, created["client_id"], created["refresh_token"])
        body = assert_oauth_error(answer, 400, "unauthorized_client")
        assert "OAuth 2.0 is disabled for tenant 'nooauth'" in body["error_description"]
        assert "HMAC" in body["error_description"]


def test_a_bearer_token_of_a_tenant_without_oauth_is_forbidden(served: Served) -> None:
    created = oauth_client(served, tenant="nooauth")
    token = "syat_issued-before-oauth-was-turned-off"
    with session_scope(served.runtime.engine) as session:
        session.add(
            AccessToken(
                token_hash=hash_secret(token),
                client_id=created["client_id"],
                tenant="nooauth",
                expires_at=served.clock() + timedelta(minutes=5),
            )
        )
    with served.client() as http:
        answer = call_api(http, token)
    assert answer.status_code == 403
    assert answer.json()["errorCode"] == "Forbidden"
    assert "enabled: HMAC" in answer.json()["errorMessage"]


def test_failed_attempts_slow_the_client_down_with_growing_waits(served: Served) -> None:
    created = oauth_client(served)
    good = {
        "grant_type": "client_credentials",
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
    }
    bad = {**good, "client_secret": "guess"}
    with served.client() as http:
        for _ in range(5):
            assert http.post("/oauth/token", data=bad).status_code == 401
        # Even the right secret must wait now: nothing is checked while blocked.
        blocked = http.post("/oauth/token", data=good)
        assert_oauth_error(blocked, 429, "slow_down")
        assert blocked.headers["Retry-After"] == "5"
        served.clock.advance(5)
        assert http.post("/oauth/token", data=bad).status_code == 401
        assert http.post("/oauth/token", data=good).headers["Retry-After"] == "10"
        served.clock.advance(10)
        assert http.post("/oauth/token", data=good).status_code == 200


def test_a_bad_bearer_token_sent_again_and_again_is_slowed_down(served: Served) -> None:
    with served.client() as http:
        for _ in range(5):
            answer = call_api(http, "syat_stale")
            assert answer.status_code == 401
            assert answer.json()["errorMessage"] == "the access token is not valid"
        answer = call_api(http, "syat_stale")
        assert answer.status_code == 429
        assert answer.json()["errorCode"] == "Throttled"
        assert int(answer.headers["Retry-After"]) > 0
