"""No secret or token ever appears in a log line (runs last in tests/security).

Every test of this directory ran with the root logger at DEBUG while a
SecretLog (log_scan.py) recorded each secret minted and each log line. This
file first drives the paths where secrets travel, good and bad, at DEBUG:
OAuth (both grants, refused secrets, a spent refresh token, expired and
revoked tokens), HMAC (good, replayed, wrongly signed), legacy login, the
sync's Salesforce login and Graph token (including re-login after both are
revoked), and then checks every line recorded so far.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from syncd.api import create_app
from syncd.auth import create_client, revoke_client, sign_request
from syncd.auth.throttle import BruteForcePolicy
from tests.api.fakes import tenant
from tests.support import ThreadedServer

from .conftest import AVAILABILITY, VAULT, WINDOW, Served, Vault
from .log_scan import SecretLog

BODY = b'[{"email": "someone@vault.example"}]'  # not a mailbox: answered per address
PASSWORD = "correct horse battery staple"


def test_the_scanner_finds_a_secret_however_it_is_logged() -> None:
    """The check below can fail: a token in a message, its args, cut short, or a traceback."""
    log = SecretLog()
    # A logger of its own, kept from the root logger: these leaks are on purpose.
    logger = logging.getLogger("security_test_scanner")
    logger.propagate = False
    with log.recording(level=logging.DEBUG, logger=logger):
        token = __import__("secrets").token_urlsafe(32)
        logger.debug("issued %s", token)
        logger.info("prefix only: %s...", token[:14])
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            logger.exception("failed")
        logger.warning("a bearer token sent by a client: syat_%s", "A" * 10)
        logger.info("nothing to see")
    assert len(log.leaks()) == 4
    assert all("nothing to see" not in leak.line for leak in log.leaks())


def _oauth_paths(url: str, engine: object, clock: Callable[[], object] | None = None) -> None:
    created = create_client(engine, tenant=VAULT, method="oauth", master_key=b"")  # type: ignore[arg-type]
    client_id, secret = created["client_id"], created["client_secret"]
    with httpx.Client(base_url=url, timeout=30) as http:
        good = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        assert http.post("/oauth/token", data=good).status_code == 200
        assert http.post("/oauth/token", json=good).status_code == 200
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        answer = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        access = answer.json()["access_token"]
        http.post("/oauth/token", data={**good, "client_secret": secret[::-1]})
        form = {"grant_type": "refresh_token", "client_id": client_id}
        first = http.post("/oauth/token", data={**form, "refresh_token": created["refresh_token"]})
        assert first.status_code == 200
        # The spent token again (reuse: the family is revoked), then the new one (revoked).
        http.post("/oauth/token", data={**form, "refresh_token": created["refresh_token"]})
        http.post("/oauth/token", data={**form, "refresh_token": first.json()["refresh_token"]})
        headers = {"Authorization": f"Bearer {access}"}
        http.post(f"{AVAILABILITY}?{WINDOW}", content=BODY, headers=headers)
        http.post(
            f"{AVAILABILITY}?{WINDOW}",
            content=BODY,
            headers={"Authorization": f"Bearer {access[:-4]}xxxx"},
        )
        revoke_client(engine, client_id)  # type: ignore[arg-type]
        http.post(f"{AVAILABILITY}?{WINDOW}", content=BODY, headers=headers)


def _hmac_paths(url: str, engine: object, master_key: bytes) -> None:
    creds = create_client(engine, tenant=VAULT, method="hmac", master_key=master_key)  # type: ignore[arg-type]
    target = f"{url}{AVAILABILITY}?{WINDOW}"
    headers = sign_request("POST", target, BODY, creds["client_id"], creds["secret"])
    assert httpx.post(target, content=BODY, headers=headers, timeout=30).status_code < 500
    httpx.post(target, content=BODY, headers=headers, timeout=30)  # a replay
    wrong = sign_request("POST", target, BODY, creds["client_id"], creds["secret"][::-1])
    httpx.post(target, content=BODY, headers=wrong, timeout=30)


def test_secret_paths_of_the_api_and_the_sync(
    vault: Vault,
    secret_log: SecretLog,
    serve_app: Callable[..., Served],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = vault.runtime
    # No slow-down here: the refused attempts below would otherwise block the good ones
    # that follow from the same address (the slow-down has its own tests).
    server = ThreadedServer(create_app(runtime, brute_force=BruteForcePolicy(max_failures=10**6)))
    try:
        _oauth_paths(server.url, runtime.engine)
        _hmac_paths(server.url, runtime.engine, runtime.master_key)
    finally:
        server.stop()
    # Legacy login (HTTP Basic), right and wrong password.
    monkeypatch.setenv("SECURITY_TEST_LEGACY_PW", PASSWORD)
    secret_log.add(PASSWORD)
    legacy = serve_app(
        tenant(
            "legacy",
            "legacy.example",
            legacy_login={"enabled": True, "password": {"env": "SECURITY_TEST_LEGACY_PW"}},
        )
    )
    for password in (PASSWORD, PASSWORD[::-1]):
        httpx.post(
            f"{legacy.url}{AVAILABILITY}?{WINDOW}",
            content=b'[{"email": "a@legacy.example"}]',
            auth=("admin", password),
            timeout=10,
        )
    # The sync: Salesforce login, Graph token, write-back; then both revoked and renewed.
    org = vault.org
    owner, guest = vault.mailboxes()[:2]
    start = org.now().replace(microsecond=0) + timedelta(days=2)
    event = org.create_event(owner, "secret paths", start, start + timedelta(hours=1))
    org.invite(event, guest)
    service = runtime.sync_service(VAULT)
    assert service.poll().failures == []
    vault.sandbox.revoke_tokens()
    vault.sandbox.org(VAULT).state.revoke_sessions()
    org.update_event(event, Subject="secret paths, renewed")
    report = service.poll()
    assert report.failures == [] and report.counts["update"] == 1
    service.refresh_responses()


def test_no_log_line_of_this_directory_holds_a_secret(secret_log: SecretLog) -> None:
    # The scan is not vacuous: secrets of every kind were minted and lines were written.
    assert len(secret_log.secrets) >= 10
    names = {name for name, _line in secret_log.lines}
    assert {"syncd.api", "syncd.graph", "syncd.salesforce"} <= {
        ".".join(name.split(".")[:2]) for name in names
    }
    assert any(" DEBUG " in f" {line}" or line.startswith("DEBUG") for _n, line in secret_log.lines)
    leaks = secret_log.leaks()
    assert not leaks, "\n".join(str(leak) for leak in leaks[:20])
