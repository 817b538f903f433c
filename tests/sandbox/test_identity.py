"""The identity platform: msal against the sandbox (secret and certificate), errors, token life."""

from __future__ import annotations

import datetime as dt
import uuid

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from syncd.sandbox import RunningSandbox

from .helpers import GRAPH_SCOPE, Graph, fetch_token


def msal_app(
    sandbox: RunningSandbox, session: requests.Session, client_id: str, credential: object
) -> msal.ConfidentialClientApplication:
    # A fresh app per case: msal replays identical 400s from its own throttle cache.
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=sandbox.authority("Contoso"),
        instance_discovery=False,
        http_client=session,
    )


def self_signed() -> tuple[str, str, str]:
    """(private key PEM, certificate PEM, SHA-1 thumbprint hex) of a new RSA certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syncd test app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return key_pem, cert_pem, cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303


def test_msal_gets_a_token_with_a_client_secret(
    sandbox: RunningSandbox, http: requests.Session
) -> None:
    _, client_id, secret = sandbox.credentials("Contoso")
    result = msal_app(sandbox, http, client_id, secret).acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    assert sandbox.counters.tokens_issued == 1
    user = sandbox.tenant("Contoso").users[0]
    graph = Graph(http, sandbox, result["access_token"])
    assert graph.get(f"/users/{user.email}").json()["id"] == user.id


@pytest.mark.parametrize("with_public_certificate", [False, True])
def test_msal_gets_a_token_with_a_certificate(
    sandbox: RunningSandbox, http: requests.Session, with_public_certificate: bool
) -> None:
    key_pem, cert_pem, thumbprint = self_signed()
    tenant_id, _, _ = sandbox.credentials("Contoso")
    client_id = str(uuid.uuid4())
    sandbox.identity.register_app(tenant_id, client_id, certificate_pem=cert_pem)
    # thumbprint -> RS256 with x5t; public_certificate -> PS256 with x5t#S256.
    credential = (
        {"private_key": key_pem, "public_certificate": cert_pem}
        if with_public_certificate
        else {"private_key": key_pem, "thumbprint": thumbprint}
    )
    result = msal_app(sandbox, http, client_id, credential).acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result


def test_an_unregistered_certificate_is_refused(
    sandbox: RunningSandbox, http: requests.Session
) -> None:
    tenant_id, _, _ = sandbox.credentials("Contoso")
    client_id = str(uuid.uuid4())
    _, registered_pem, _ = self_signed()
    other_key, _, other_thumbprint = self_signed()
    sandbox.identity.register_app(tenant_id, client_id, certificate_pem=registered_pem)
    credential = {"private_key": other_key, "thumbprint": other_thumbprint}
    result = msal_app(sandbox, http, client_id, credential).acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "invalid_client"
    assert 700027 in result["error_codes"]


def test_a_wrong_secret_is_invalid_client(sandbox: RunningSandbox, http: requests.Session) -> None:
    _, client_id, _ = sandbox.credentials("Contoso")
    result = msal_app(sandbox, http, client_id, "not-the-secret").acquire_token_for_client(
        [GRAPH_SCOPE]
    )
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided")
    raw = http.post(
        sandbox.token_endpoint("Contoso"),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": "nope",
            "scope": GRAPH_SCOPE,
        },
    )
    assert raw.status_code == 401
    assert raw.json()["error_codes"] == [7000215]


def test_an_unknown_tenant_is_aadsts90002(sandbox: RunningSandbox, http: requests.Session) -> None:
    discovery = http.get(
        f"{sandbox.base_url}/nowhere.example/v2.0/.well-known/openid-configuration"
    )
    token = http.post(
        f"{sandbox.base_url}/{uuid.uuid4()}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    )
    for response in (discovery, token):
        assert response.status_code == 400
        assert response.json()["error_description"].startswith("AADSTS90002: Tenant")


def test_openid_configuration_points_back_at_the_sandbox(
    sandbox: RunningSandbox, http: requests.Session
) -> None:
    tenant_id, _, _ = sandbox.credentials("Contoso")
    config = http.get(f"{sandbox.authority()}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == sandbox.token_endpoint()
    assert config["issuer"] == f"{sandbox.base_url}/{tenant_id}/v2.0"
    assert config["authorization_endpoint"].startswith(sandbox.base_url)
    assert http.get(config["jwks_uri"]).json() == {"keys": []}
    by_domain = http.get(
        f"{sandbox.base_url}/contoso.example/v2.0/.well-known/openid-configuration"
    )
    assert by_domain.status_code == 200


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        ("https://graph.microsoft.com/Calendars.ReadWrite", "invalid_scope"),
        ("https://outlook.office.com/.default", "invalid_resource"),
    ],
)
def test_client_credentials_need_the_graph_default_scope(
    sandbox: RunningSandbox, http: requests.Session, scope: str, error: str
) -> None:
    _, client_id, secret = sandbox.credentials("Contoso")
    response = http.post(
        sandbox.token_endpoint(),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": scope,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_the_sandbox_graph_url_is_an_accepted_resource(
    sandbox: RunningSandbox, http: requests.Session
) -> None:
    _, client_id, secret = sandbox.credentials("Contoso")
    response = http.post(
        sandbox.token_endpoint(),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": f"{sandbox.base_url}/.default",
        },
    )
    assert response.status_code == 200


def test_an_expired_token_gets_401(sandbox: RunningSandbox, graph: Graph) -> None:
    sandbox.faults.configure(token_ttl_seconds=120)
    user = sandbox.tenant("Contoso").users[0]
    graph.token = fetch_token(graph.session, sandbox)
    assert graph.get(f"/users/{user.email}/events").status_code == 200
    sandbox.clock.advance(121)
    response = graph.get(f"/users/{user.email}/events", headers={"client-request-id": "abc-123"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert response.headers["client-request-id"] == "abc-123"
    assert error["innerError"]["request-id"] == response.headers["request-id"]


def test_token_lifetime_knob_shows_in_expires_in(
    sandbox: RunningSandbox, http: requests.Session
) -> None:
    sandbox.faults.configure(token_ttl_seconds=90)
    _, client_id, secret = sandbox.credentials("Contoso")
    body = http.post(
        sandbox.token_endpoint(),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": GRAPH_SCOPE,
        },
    ).json()
    assert body["expires_in"] == 90


def test_revoked_and_missing_tokens_get_401(sandbox: RunningSandbox, graph: Graph) -> None:
    user = sandbox.tenant("Contoso").users[0]
    assert graph.get(f"/users/{user.id}").status_code == 200
    assert sandbox.revoke_tokens() >= 1
    assert graph.get(f"/users/{user.id}").status_code == 401
    missing = graph.session.get(f"{sandbox.graph_url}/users/{user.id}")
    assert missing.status_code == 401
    assert missing.json()["error"]["message"] == "Access token is empty."


def test_a_token_only_reaches_its_own_tenant(sandbox: RunningSandbox, graph: Graph) -> None:
    fabrikam_user = sandbox.tenant("Fabrikam").users[0]
    response = graph.get(f"/users/{fabrikam_user.email}/events")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ErrorInvalidUser"
