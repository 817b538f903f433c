"""Which client ids exist is nobody's business: unknown, revoked and real ids answer alike.

RFC 6749 §5.2 lets the token endpoint answer every failed client authentication
with invalid_client; HMAC verification does the same with one message. The
whole answer is compared (status, body, headers), not only the error code.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from syncd.auth import create_client, revoke_client, sign_request

from .conftest import AVAILABILITY, WINDOW, Served

BODY = b'[{"email": "jane@contoso.example"}]'
#: Headers that differ between any two answers.
VARYING = {"date", "x-correlation-id"}


def shape(answer: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in answer.headers.items() if k.lower() not in VARYING}
    return answer.status_code, answer.content, headers


def oauth_ids(served: Served) -> dict[str, dict[str, str]]:
    """A real client, a revoked one, one whose tenant turned OAuth off, and an unknown id."""

    def make(tenant: str) -> dict[str, str]:
        return create_client(
            served.runtime.engine, tenant=tenant, method="oauth", master_key=b"", clock=served.clock
        )

    real, revoked, disabled = make("demo"), make("demo"), make("nooauth")
    revoke_client(served.runtime.engine, revoked["client_id"])
    unknown = {**real, "client_id": "oauth_00000000000000000000"}
    return {"real": real, "revoked": revoked, "tenant without oauth": disabled, "unknown": unknown}


ATTEMPTS: dict[str, Callable[[dict[str, str], dict[str, str]], dict[str, str]]] = {
    "made-up refresh token": lambda c, _o: {
        "grant_type": "refresh_token",
        "client_id": c["client_id"],
        "refresh_token": "syrt_made-up",
    },
    "another client's refresh token": lambda c, other: {
        "grant_type": "refresh_token",
        "client_id": c["client_id"],
        "refresh_token": other["refresh_token"],
    },
    "wrong secret": lambda c, _o: {
        "grant_type": "client_credentials",
        "client_id": c["client_id"],
        "client_secret": "sycs_guess",
    },
    "wrong secret with a refresh token": lambda c, other: {
        "grant_type": "refresh_token",
        "client_id": c["client_id"],
        "client_secret": "sycs_guess",
        "refresh_token": other["refresh_token"],
    },
}


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_the_token_endpoint_answers_every_client_id_alike(served: Served, attempt: str) -> None:
    ids = oauth_ids(served)
    outsider = create_client(
        served.runtime.engine, tenant="demo", method="oauth", master_key=b"", clock=served.clock
    )
    with served.client() as http:
        answers = {
            name: shape(http.post("/oauth/token", data=ATTEMPTS[attempt](client, outsider)))
            for name, client in ids.items()
        }
    first = answers["unknown"]
    assert first[0] == 401 and b'"invalid_client"' in first[1]
    assert first[2]["www-authenticate"] == 'Basic realm="syncd"'
    assert all(answer == first for answer in answers.values()), answers


def test_hmac_answers_every_client_id_alike_until_the_signature_is_right(served: Served) -> None:
    engine, key = served.runtime.engine, served.runtime.master_key

    def make(tenant: str, method: str = "hmac") -> dict[str, str]:
        return create_client(
            engine,
            tenant=tenant,
            method=method,
            master_key=key,
            clock=served.clock,  # type: ignore[arg-type]
        )

    real, revoked, disabled = make("demo"), make("demo"), make("other")
    revoke_client(engine, revoked["client_id"])
    ids = {
        "real": real["client_id"],
        "revoked": revoked["client_id"],
        "tenant without hmac": disabled["client_id"],
        "an oauth client": make("demo", "oauth")["client_id"],
        "unknown": "hmac_00000000000000000000",
    }
    url = f"{served.url}{AVAILABILITY}?{WINDOW}"

    def attempt(client_id: str) -> tuple[int, bytes, dict[str, str]]:
        headers = sign_request(
            "POST", url, BODY, client_id, "a-guessed-secret", int(served.clock().timestamp())
        )
        return shape(httpx.post(url, content=BODY, headers=headers, timeout=10))

    for round_number in range(6):  # the sixth round is throttled: alike too
        answers = {name: attempt(client_id) for name, client_id in ids.items()}
        first = answers["unknown"]
        assert first[0] == (401 if round_number < 5 else 429)
        assert all(answer == first for answer in answers.values()), answers
