"""OAuth token endpoint (JWT bearer, client credentials) and sessions, over real TLS."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import jwt
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession
from simple_salesforce.format import format_soql

from syncd.sandbox.salesforce import SalesforceState
from syncd.sandbox.salesforce.auth import PRODUCTION_AUDIENCE, SANDBOX_AUDIENCE

from .conftest import API_VERSION
from .helpers import TlsServer, jwt_assertion, rsa_key_and_certificate

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    return rsa_key_and_certificate()


def token_url(server: TlsServer) -> str:
    return f"{server.base_url}/services/oauth2/token"


def test_jwt_bearer_login_then_query(
    state: SalesforceState,
    sf_server: TlsServer,
    http: requests.Session,
    key_pair: tuple[bytes, bytes],
) -> None:
    key, certificate = key_pair
    username = state.org.integration_username
    assert username is not None
    state.register_connected_app("3MVG9-consumer-key", certificate_pem=certificate)
    assertion = jwt_assertion(
        key, client_id="3MVG9-consumer-key", username=username, audience=PRODUCTION_AUDIENCE
    )
    response = http.post(
        token_url(sf_server), data={"grant_type": JWT_GRANT, "assertion": assertion}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["token_type"] == "Bearer"
    assert answer["instance_url"] == sf_server.base_url
    user_id = state.org.find_user(username)
    assert answer["id"] == f"{sf_server.base_url}/id/{state.org.org_id}/{user_id}"
    sf = Salesforce(
        instance_url=answer["instance_url"],
        session_id=answer["access_token"],
        session=http,
        version=API_VERSION,
    )
    found = sf.query(format_soql("SELECT Id FROM User WHERE Username = {}", username))
    assert found["totalSize"] == 1
    assert state.counters.snapshot()["tokens_issued"] == 1
    who = http.get(answer["id"], headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert who.json()["username"] == username


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        # The org's own (My Domain / instance) URL is where the assertion is posted, never
        # its audience; a production org does not take the sandbox audience either.
        ({"audience": "<base_url>"}, "invalid_grant", "audience is invalid"),
        ({"audience": SANDBOX_AUDIENCE}, "invalid_grant", "audience is invalid"),
        ({"lifetime": -120}, "invalid_grant", "expired authorization code"),
        ({"lifetime": 3600}, "invalid_grant", "invalid assertion: exp must be within 3 minutes"),
        ({"client_id": "unknown-app"}, "invalid_client_id", "client identifier invalid"),
        (
            {"username": "nobody@contoso.example"},
            "invalid_grant",
            "user hasn't approved this consumer",
        ),
    ],
)
def test_jwt_bearer_refusals(
    state: SalesforceState,
    sf_server: TlsServer,
    http: requests.Session,
    key_pair: tuple[bytes, bytes],
    change: dict[str, Any],
    error: str,
    description: str,
) -> None:
    key, certificate = key_pair
    state.register_connected_app("app", certificate_pem=certificate)
    claims: dict[str, Any] = {
        "client_id": "app",
        "username": state.org.integration_username,
        "audience": PRODUCTION_AUDIENCE,
        **change,
    }
    if claims["audience"] == "<base_url>":
        claims["audience"] = sf_server.base_url
    assertion = jwt_assertion(key, **claims)
    response = http.post(
        token_url(sf_server), data={"grant_type": JWT_GRANT, "assertion": assertion}
    )
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_jwt_signed_with_another_key_is_refused(
    state: SalesforceState,
    sf_server: TlsServer,
    http: requests.Session,
    key_pair: tuple[bytes, bytes],
) -> None:
    _, certificate = key_pair
    other_key, _ = rsa_key_and_certificate("someone else")
    state.register_connected_app("app", certificate_pem=certificate)
    assertion = jwt_assertion(
        other_key,
        client_id="app",
        username=str(state.org.integration_username),
        audience=PRODUCTION_AUDIENCE,
    )
    response = http.post(
        token_url(sf_server), data={"grant_type": JWT_GRANT, "assertion": assertion}
    )
    assert response.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    hs256 = jwt.encode({"iss": "app", "sub": "x", "aud": PRODUCTION_AUDIENCE, "exp": 1}, "s" * 32)
    response = http.post(token_url(sf_server), data={"grant_type": JWT_GRANT, "assertion": hs256})
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("expected", "extra", "accepted", "refused"),
    [
        # A sandbox org wants test.salesforce.com and refuses login.salesforce.com.
        (SANDBOX_AUDIENCE, [], SANDBOX_AUDIENCE, PRODUCTION_AUDIENCE),
        # An Experience Cloud site's URL is an audience too.
        (
            PRODUCTION_AUDIENCE,
            ["https://acme.my.site.com/customers"],
            "https://acme.my.site.com/customers",
            "https://acme.my.site.com",
        ),
    ],
)
def test_jwt_audience_follows_the_org(
    state: SalesforceState,
    sf_server: TlsServer,
    http: requests.Session,
    key_pair: tuple[bytes, bytes],
    expected: str,
    extra: list[str],
    accepted: str,
    refused: str,
) -> None:
    key, certificate = key_pair
    state.register_connected_app("app", certificate_pem=certificate)
    admin = f"{sf_server.base_url}/_sandbox/salesforce/settings"
    settings = http.put(admin, json={"jwt_audience": expected, "extra_audiences": extra}).json()
    assert settings["jwt_audience"] == expected
    username = str(state.org.integration_username)

    def ask(audience: str) -> requests.Response:
        assertion = jwt_assertion(key, client_id="app", username=username, audience=audience)
        return http.post(
            token_url(sf_server), data={"grant_type": JWT_GRANT, "assertion": assertion}
        )

    assert ask(accepted).status_code == 200
    assert ask(refused).json() == {
        "error": "invalid_grant",
        "error_description": "audience is invalid",
    }


def test_client_credentials_form_and_basic(
    state: SalesforceState, sf_server: TlsServer, http: requests.Session
) -> None:
    run_as = str(state.org.integration_username)
    state.register_connected_app("cc-app", client_secret="s3cret", run_as=run_as)
    form = {"grant_type": "client_credentials", "client_id": "cc-app", "client_secret": "s3cret"}
    answer = http.post(token_url(sf_server), data=form).json()
    # signature = Base64(HMAC-SHA256(id + issued_at, key = consumer secret))
    expected = hmac.new(b"s3cret", (answer["id"] + answer["issued_at"]).encode(), hashlib.sha256)
    assert answer["signature"] == base64.b64encode(expected.digest()).decode()
    assert answer["id"].endswith(str(state.org.find_user(run_as)))
    basic = base64.b64encode(b"cc-app:s3cret").decode()
    response = http.post(
        token_url(sf_server),
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    wrong = http.post(token_url(sf_server), data={**form, "client_secret": "nope"})
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }


def test_client_credentials_without_run_as_user(
    state: SalesforceState, sf_server: TlsServer, http: requests.Session
) -> None:
    state.register_connected_app("no-user", client_secret="x")
    form = {"grant_type": "client_credentials", "client_id": "no-user", "client_secret": "x"}
    assert http.post(token_url(sf_server), data=form).json() == {
        "error": "invalid_grant",
        "error_description": "no client credentials user enabled",
    }


def test_revoked_session_is_expired_for_simple_salesforce(
    state: SalesforceState, sf: Salesforce
) -> None:
    assert sf.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1
    state.revoke_sessions()
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_sessions_expire_after_idle_time(state: SalesforceState, sf: Salesforce) -> None:
    state.auth.session_timeout_seconds = 600
    state.clock.advance(500)
    sf.query("SELECT Id FROM User LIMIT 1")  # use resets the idle timer
    state.clock.advance(500)
    sf.query("SELECT Id FROM User LIMIT 1")
    state.clock.advance(601)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User LIMIT 1")
    assert state.counters.snapshot()["session_refusals"] == 1


def test_missing_or_unknown_bearer(
    sf_server: TlsServer, http: requests.Session, state: SalesforceState
) -> None:
    url = f"{sf_server.base_url}/services/data/v{API_VERSION}/limits/"
    assert http.get(url).status_code == 401
    response = http.get(url, headers={"Authorization": "Bearer 00D!nope"})
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
