"""Refresh tokens rotate (an old one never works again); guessing credentials is slowed down.

tests/auth/test_oauth_http.py covers the grant details; here the two promises
on their own, including the cases that only show under load or across
processes: a chain of rotations where every old token is dead, one refresh
token raced from many threads (exactly one winner), and the slow-down holding
across two API processes that share the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from syncd.auth import create_client

from .conftest import AVAILABILITY, WINDOW, Served

BODY = b'[{"email": "jane@contoso.example"}]'


def refresh(url: str, client_id: str, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token}
    return httpx.post(f"{url}/oauth/token", data=form, timeout=10)


def api_call(url: str, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return httpx.post(
        f"{url}{AVAILABILITY}?{WINDOW}", content=BODY, headers=headers, timeout=10
    ).status_code


def test_every_rotated_refresh_token_is_dead(served: Served) -> None:
    created = create_client(served.engine, tenant="demo", method="oauth", master_key=b"")
    client_id, current = created["client_id"], created["refresh_token"]
    spent = []
    for _ in range(5):
        answer = refresh(served.url, client_id, current)
        assert answer.status_code == 200, answer.text
        spent.append(current)
        current = answer.json()["refresh_token"]
        assert current not in spent
    # Presenting any old one is a reuse: refused, and the whole family is revoked.
    reuse = refresh(served.url, client_id, spent[2])
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    for token in [current, *spent]:
        served.clock.advance(301)  # past the slow-down, to see each refusal itself
        answer = refresh(served.url, client_id, token)
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_grant"


def test_a_refresh_token_raced_from_many_threads_is_redeemed_once(served: Served) -> None:
    created = create_client(served.engine, tenant="demo", method="oauth", master_key=b"")
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: refresh(served.url, created["client_id"], created["refresh_token"]),
                range(8),
            )
        )
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) == 1, [a.text for a in answers]
    # Losers are refused as a reuse, or (after five refusals) slowed down.
    assert {a.json()["error"] for a in answers if a.status_code != 200} <= {
        "invalid_grant",
        "slow_down",
    }
    # Whatever won, the token is spent; the losers' reuse revoked the family.
    served.clock.advance(301)
    assert refresh(served.url, created["client_id"], created["refresh_token"]).status_code == 400
    assert api_call(served.url, winners[0].json()["access_token"]) == 401


def test_guessing_a_client_secret_costs_growing_waits(served: Served) -> None:
    created = create_client(served.engine, tenant="demo", method="oauth", master_key=b"")
    guess = {"grant_type": "client_credentials", "client_id": created["client_id"]}
    waits = []
    with served.client() as http:
        for number in range(12):
            answer = http.post("/oauth/token", data={**guess, "client_secret": f"guess{number}"})
            if answer.status_code == 429:
                assert answer.json()["error"] == "slow_down"
                wait = int(answer.headers["Retry-After"])
                waits.append(wait)
                served.clock.advance(wait)
                answer = http.post(
                    "/oauth/token", data={**guess, "client_secret": f"guess{number}"}
                )
            assert answer.status_code == 401
        # After five free failures every further guess waited, twice as long each time
        # (until the first failures leave the 300-second window): twelve guesses cost
        # over five minutes of waiting.
        assert waits[:6] == [5, 10, 20, 40, 80, 160]
        assert len(waits) == 7 and sum(waits) >= 300
        # While blocked, even the right secret is not checked.
        right = http.post("/oauth/token", data={**guess, "client_secret": created["client_secret"]})
        assert right.status_code == 429


def test_the_slow_down_holds_across_processes_sharing_the_ledger(
    serve_app: Callable[..., Served],
) -> None:
    first = serve_app()
    second = serve_app(like=first)
    created = create_client(first.engine, tenant="demo", method="oauth", master_key=b"")
    form = {"grant_type": "client_credentials", "client_id": created["client_id"]}
    for number in range(5):
        answer = httpx.post(
            f"{first.url}/oauth/token", data={**form, "client_secret": f"g{number}"}, timeout=10
        )
        assert answer.status_code == 401
    elsewhere = httpx.post(
        f"{second.url}/oauth/token",
        data={**form, "client_secret": created["client_secret"]},
        timeout=10,
    )
    assert elsewhere.status_code == 429
    assert int(elsewhere.headers["Retry-After"]) > 0
