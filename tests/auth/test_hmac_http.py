"""HMAC over HTTP: signed requests pass; replays, stale or tampered ones do not."""

from __future__ import annotations

import json

import httpx

from syncd.auth import create_client, rotate_hmac_secret, sign_request

from .conftest import AVAILABILITY, MEETING, WINDOW, Served

BODY = b'[{"email": "jane@contoso.example"},]'


def hmac_client(served: Served, tenant: str = "demo") -> dict[str, str]:
    return create_client(
        served.runtime.engine,
        tenant=tenant,
        method="hmac",
        master_key=served.runtime.master_key,
        clock=served.clock,
    )


def signed(
    served: Served,
    creds: dict[str, str],
    method: str,
    path: str,
    body: bytes = b"",
    *,
    skew: int = 0,
) -> httpx.Response:
    url = served.url + path
    stamp = int(served.clock().timestamp()) + skew
    headers = sign_request(method, url, body, creds["client_id"], creds["secret"], stamp)
    return httpx.request(method, url, content=body, headers=headers)


def assert_refused(answer: httpx.Response, fragment: str, status: int = 401) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["errorCode"] == ("Unauthorized" if status == 401 else "Forbidden")
    assert fragment in answer.json()["errorMessage"]
    if status == 401:
        assert "SyncdHmac" in answer.headers["WWW-Authenticate"]


def test_a_signed_request_passes_once_and_its_replay_is_refused(served: Served) -> None:
    creds = hmac_client(served)
    url = f"{served.url}{AVAILABILITY}?{WINDOW}"
    headers = sign_request(
        "POST", url, BODY, creds["client_id"], creds["secret"], int(served.clock().timestamp())
    )
    first = httpx.post(url, content=BODY, headers=headers)
    assert first.status_code == 200, first.text
    replay = httpx.post(url, content=BODY, headers=headers)
    assert_refused(replay, "replay")


def test_query_and_body_are_covered_by_the_signature(served: Served) -> None:
    creds = hmac_client(served)
    url = f"{served.url}{AVAILABILITY}?{WINDOW}"
    stamp = int(served.clock().timestamp())
    headers = sign_request("POST", url, BODY, creds["client_id"], creds["secret"], stamp)
    tampered_body = httpx.post(url, content=BODY.replace(b"jane", b"john"), headers=headers)
    assert_refused(tampered_body, "does not match")
    other_query = httpx.post(url.replace("2030-10-16", "2030-10-17"), content=BODY, headers=headers)
    assert_refused(other_query, "does not match")


def test_a_get_with_encoded_query_values_verifies(served: Served) -> None:
    creds = hmac_client(served)
    path = f"{MEETING}?organizerEmail=jane%2Btag@contoso.example&id=a%20b&salesforceCorrelationId=x"
    answer = signed(served, creds, "GET", path)
    assert answer.status_code == 404  # authenticated; the stand-in core has no such meeting
    assert answer.json()["errorCode"] == "MeetingNotFound"


def test_a_stale_or_future_timestamp_is_refused(served: Served) -> None:
    creds = hmac_client(served)
    assert_refused(
        signed(served, creds, "POST", f"{AVAILABILITY}?{WINDOW}", BODY, skew=-301), "-301 seconds"
    )
    assert_refused(
        signed(served, creds, "POST", f"{AVAILABILITY}?{WINDOW}", BODY, skew=400), "+400 seconds"
    )
    assert (
        signed(served, creds, "POST", f"{AVAILABILITY}?{WINDOW}", BODY, skew=-299).status_code
        == 200
    )


def test_missing_headers_and_unknown_clients_are_refused(served: Served) -> None:
    answer = httpx.post(
        f"{served.url}{AVAILABILITY}?{WINDOW}", content=BODY, headers={"X-Syncd-Client-Id": "x"}
    )
    assert_refused(answer, "X-Syncd-Timestamp, X-Syncd-Signature")
    ghost = {"client_id": "hmac_ghost", "secret": "s"}
    assert_refused(
        signed(served, ghost, "POST", f"{AVAILABILITY}?{WINDOW}", BODY), "client is unknown"
    )
    creds = hmac_client(served)
    headers = {
        **sign_request("GET", served.url + MEETING, b"", creds["client_id"], creds["secret"]),
        "Authorization": "Bearer x",
    }
    assert_refused(httpx.get(served.url + MEETING, headers=headers), "not both")


def test_hmac_is_refused_for_a_tenant_that_disables_it(served: Served) -> None:
    creds = hmac_client(served, tenant="other")
    answer = signed(served, creds, "POST", f"{AVAILABILITY}?{WINDOW}", BODY)
    assert_refused(answer, "HMAC authentication is disabled for tenant 'other'", status=403)
    assert "OAuth 2.0" in answer.json()["errorMessage"]


def test_a_rotated_secret_replaces_the_old_one(served: Served) -> None:
    creds = hmac_client(served)
    rotated = rotate_hmac_secret(
        served.runtime.engine, creds["client_id"], master_key=served.runtime.master_key
    )
    assert rotated["secret"] != creds["secret"]
    assert_refused(
        signed(served, creds, "POST", f"{AVAILABILITY}?{WINDOW}", BODY), "does not match"
    )
    assert signed(served, rotated, "POST", f"{AVAILABILITY}?{WINDOW}", BODY).status_code == 200


def test_bad_signatures_are_slowed_down(served: Served) -> None:
    creds = {**hmac_client(served), "secret": "wrong"}
    for _ in range(5):
        assert signed(served, creds, "POST", f"{AVAILABILITY}?{WINDOW}", BODY).status_code == 401
    answer = signed(served, creds, "POST", f"{AVAILABILITY}?{WINDOW}", BODY)
    assert answer.status_code == 429
    assert json.loads(answer.text)["errorCode"] == "Throttled"
    assert answer.headers["Retry-After"] == "5"
