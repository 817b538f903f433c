"""HMAC: a signed request is accepted once, by any process sharing the ledger; stale ones never.

tests/auth/test_hmac_http.py covers the scheme's details (what the signature
covers, missing headers, rotation); here each promise is stated on its own:
a replay is refused (also by a second API process over the same ledger, and
also once the signature's timestamp has gone stale), and a timestamp outside
the allowed skew is refused even with a valid signature. In every refused case
the core is not called.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from syncd.auth import create_client, sign_request

from .conftest import AVAILABILITY, WINDOW, Served, core_calls

BODY = b'[{"email": "jane@contoso.example"}]'
PATH = f"{AVAILABILITY}?{WINDOW}"


def hmac_creds(served: Served, tenant: str = "demo") -> dict[str, str]:
    return create_client(
        served.engine,
        tenant=tenant,
        method="hmac",
        master_key=served.runtime.master_key,
        clock=served.clock,
    )


def signed_headers(served: Served, creds: dict[str, str], *, skew: int = 0) -> dict[str, str]:
    stamp = int(served.clock().timestamp()) + skew
    return sign_request("POST", served.url + PATH, BODY, creds["client_id"], creds["secret"], stamp)


def post(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url + PATH, content=BODY, headers=headers, timeout=10)


def refused(answer: httpx.Response, fragment: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json()["errorCode"] == "Unauthorized"
    assert fragment in answer.json()["errorMessage"]


def availability_calls(served: Served) -> int:
    return sum(1 for name, *_ in core_calls(served)["demo"] if name == "availability")


def test_a_replay_is_refused_and_the_core_runs_once(served: Served) -> None:
    headers = signed_headers(served, hmac_creds(served))
    assert post(served.url, headers).status_code == 200
    for _ in range(3):
        refused(post(served.url, headers), "replay")
    assert availability_calls(served) == 1


def test_a_replay_to_another_process_over_the_same_ledger_is_refused(
    serve_app: Callable[..., Served],
) -> None:
    first = serve_app()
    second = serve_app(like=first)
    headers = signed_headers(first, hmac_creds(first))
    assert post(first.url, headers).status_code == 200
    refused(post(second.url, headers), "replay")
    assert availability_calls(second) == 0


def test_a_replay_after_the_timestamp_went_stale_is_still_refused(served: Served) -> None:
    headers = signed_headers(served, hmac_creds(served))
    assert post(served.url, headers).status_code == 200
    # Once the signature's skew window is over its nonce may be purged; the
    # timestamp check must then refuse it instead.
    served.clock.advance(301)
    answer = post(served.url, headers)
    assert answer.status_code == 401
    assert availability_calls(served) == 1


def test_stale_and_future_timestamps_are_refused_even_when_signed_right(served: Served) -> None:
    creds = hmac_creds(served)
    for skew in (-301, -3600, 301, 86_400):
        answer = post(served.url, signed_headers(served, creds, skew=skew))
        refused(answer, f"{skew:+d} seconds off the server clock")
    assert availability_calls(served) == 0
    assert post(served.url, signed_headers(served, creds, skew=-299)).status_code == 200


def test_a_signature_cannot_be_moved_to_another_body_or_client(served: Served) -> None:
    creds, other = hmac_creds(served), hmac_creds(served)
    headers = signed_headers(served, creds)
    tampered = httpx.post(
        served.url + PATH, content=BODY.replace(b"jane", b"joan"), headers=headers, timeout=10
    )
    refused(tampered, "does not match")
    borrowed = {**headers, "X-Syncd-Client-Id": other["client_id"]}
    refused(post(served.url, borrowed), "does not match")
    assert availability_calls(served) == 0
