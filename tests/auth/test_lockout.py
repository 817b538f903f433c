"""Nobody can lock a client out by failing in its name: failures count per (source, client).

The app is served the way `syncd serve` serves it, trusting 127.0.0.1 as a proxy,
so `X-Forwarded-For` plays the caller's address (see conftest.serve_tenants).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from syncd.api import create_app
from syncd.auth import create_client, sign_request
from syncd.auth.throttle import caller_key, source_of
from syncd.config import ApiServerConfig
from tests.api.fakes import fake_runtime, migrated_copy, tenant

from .conftest import AVAILABILITY, WINDOW, Served, default_tenants, serve_like_syncd

BODY = b'[{"email": "jane@contoso.example"}]'
ATTACKER = "198.51.100.66"
REAL_CLIENT = "203.0.113.5"
TOKEN_URL = "/oauth/token"


def credentials_form(client_id: str, secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}


def test_failures_in_a_clients_name_from_elsewhere_do_not_lock_it_out(
    serve_tenants: Callable[..., Served],
) -> None:
    served = serve_tenants(behind_proxy=True)
    created = create_client(
        served.runtime.engine, tenant="demo", method="oauth", master_key=b"", clock=served.clock
    )
    good = credentials_form(created["client_id"], created["client_secret"])
    with served.client(ATTACKER) as attacker, served.client(REAL_CLIENT) as real:
        answers = [
            attacker.post(TOKEN_URL, data={**good, "client_secret": f"guess-{n}"}).status_code
            for n in range(8)
        ]
        assert answers == [401] * 5 + [429] * 3, "the guesser itself is slowed down"
        # The real client, elsewhere, is not refused: now, and while guessing goes on.
        assert real.post(TOKEN_URL, data=good).status_code == 200
        served.clock.advance(300)
        for _ in range(5):
            attacker.post(TOKEN_URL, data={**good, "client_secret": "guess"})
        assert real.post(TOKEN_URL, data=good).status_code == 200
        # A refresh token is a credential of the client too.
        refresh = {
            "grant_type": "refresh_token",
            "client_id": created["client_id"],
            "refresh_token": created["refresh_token"],
        }
        assert real.post(TOKEN_URL, data=refresh).status_code == 200


def test_wrong_signatures_from_elsewhere_do_not_lock_an_hmac_client_out(
    serve_tenants: Callable[..., Served],
) -> None:
    served = serve_tenants(behind_proxy=True)
    creds = create_client(
        served.runtime.engine,
        tenant="demo",
        method="hmac",
        master_key=served.runtime.master_key,
        clock=served.clock,
    )
    url = f"{served.url}{AVAILABILITY}?{WINDOW}"

    def signed(source: str, secret: str) -> int:
        stamp = int(served.clock().timestamp())
        headers = sign_request("POST", url, BODY, creds["client_id"], secret, stamp)
        headers["X-Forwarded-For"] = source
        served.clock.advance(1)  # a fresh timestamp: never a replay
        return httpx.post(url, content=BODY, headers=headers, timeout=10).status_code

    assert [signed(ATTACKER, "wrong") for _ in range(6)] == [401] * 5 + [429]
    assert signed(REAL_CLIENT, creds["secret"]) == 200
    assert signed(ATTACKER, creds["secret"]) == 429, "the guessing source itself waits"


def test_wrong_passwords_from_elsewhere_do_not_lock_the_legacy_login_out(
    serve_tenants: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_LEGACY_PW", "correct horse")
    legacy = {"enabled": True, "username": "admin", "password": {"env": "TEST_LEGACY_PW"}}
    served = serve_tenants(tenant("acme", "acme.example", legacy_login=legacy), behind_proxy=True)

    def call(source: str, password: str) -> int:
        with served.client(source) as http:
            answer = http.post(f"{AVAILABILITY}?{WINDOW}", content=BODY, auth=("admin", password))
        return answer.status_code

    assert [call(ATTACKER, "guess") for _ in range(6)] == [401] * 5 + [429]
    assert call(REAL_CLIENT, "correct horse") == 200


def test_a_bad_bearer_token_costs_its_caller_not_the_address_it_shares(
    served: Served,
) -> None:
    created = create_client(
        served.runtime.engine, tenant="demo", method="oauth", master_key=b"", clock=served.clock
    )
    with served.client() as http:
        form = credentials_form(created["client_id"], created["client_secret"])
        token = http.post(TOKEN_URL, data=form).json()["access_token"]
        # A caller behind the same address (one proxy, one NAT) sends bad tokens.
        for number in range(12):
            http.post(
                f"{AVAILABILITY}?{WINDOW}",
                content=BODY,
                headers={"Authorization": f"Bearer syat_bad{number % 2}"},
            )
        answer = http.post(
            f"{AVAILABILITY}?{WINDOW}", content=BODY, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        # A fresh guess is just refused, and the repeated bad token waits.
        fresh = http.post(
            f"{AVAILABILITY}?{WINDOW}", content=BODY, headers={"Authorization": "Bearer syat_x"}
        )
        assert fresh.status_code == 401
        again = http.post(
            f"{AVAILABILITY}?{WINDOW}", content=BODY, headers={"Authorization": "Bearer syat_bad0"}
        )
        assert again.status_code == 429


@pytest.mark.parametrize(
    ("environment", "trusted"),
    [(None, []), ("*", []), (None, ["10.0.0.0/8", "::1"])],
    ids=["default", "FORWARDED_ALLOW_IPS=*", "other-proxies-listed"],
)
def test_forwarded_headers_are_ignored_unless_the_proxy_is_listed(
    auth_ledger_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: str | None,
    trusted: list[str],
) -> None:
    """Unless 127.0.0.1 is in `trusted_proxies`, its X-Forwarded-For does not choose the
    address failures are charged to (uvicorn's own default would believe it, and
    $FORWARDED_ALLOW_IPS would widen that)."""
    if environment is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", environment)
    engine = migrated_copy(auth_ledger_template, tmp_path / "ledger.db")
    runtime = fake_runtime(engine, *default_tenants())
    created = create_client(engine, tenant="demo", method="oauth", master_key=b"")
    good = credentials_form(created["client_id"], created["client_secret"])
    try:
        settings = ApiServerConfig(trusted_proxies=trusted)
        with serve_like_syncd(create_app(runtime), settings) as url:
            for number in range(5):
                # Each guess claims another address: were that believed, none would add up.
                headers = {"X-Forwarded-For": f"198.51.100.{number}"}
                httpx.post(
                    url + TOKEN_URL, data={**good, "client_secret": "guess"}, headers=headers
                )
            answer = httpx.post(
                url + TOKEN_URL, data=good, headers={"X-Forwarded-For": REAL_CLIENT}
            )
    finally:
        engine.dispose()
    assert answer.status_code == 429, "all five came from 127.0.0.1, and so did this one"


def test_sources_group_ipv6_by_64_and_keys_never_hold_the_principal() -> None:
    assert source_of("2001:db8:1:2:aaaa::1") == source_of("2001:db8:1:2:bbbb::2")
    assert source_of("2001:db8:1:2:aaaa::1") != source_of("2001:db8:1:3::1")
    assert source_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_of("192.0.2.7") != source_of("192.0.2.8")
    assert source_of("not an address").startswith("peer#")
    key = caller_key("client", "192.0.2.7", "sycs_pasted-where-the-id-belongs")
    assert key.startswith("client:192.0.2.7|") and "sycs" not in key and len(key) <= 128
