"""The real SalesforceClient and logins end to end against the sandbox Salesforce org,
served over TLS on 127.0.0.1: what cassettes cannot show on demand (expiring sessions,
an exhausted API budget, server errors, thousands of rows, writes that partly fail)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from syncd.domain import ErrorCode, SyncdError
from syncd.salesforce import (
    ClientCredentialsLogin,
    JwtBearerLogin,
    Login,
    SalesforceClient,
    SalesforceSession,
    build_session,
    soql,
)
from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.salesforce import SalesforceState, build_salesforce_app, build_salesforce_state
from syncd.sandbox.tls import make_tls
from syncd.sockets import bind_tcp
from tests.support import suite_clock

from .conftest import RecordingSleep

INTEGRATION_USER = "sync@acme.example"
ORGANIZER = "ada@acme.example"
JWT_CLIENT_ID = "3MVG9syncdJwtBearerConsumerKey"
CC_CLIENT_ID = "3MVG9syncdClientCredentialsKey"
CC_SECRET = "cc-secret-7f3e1b9a4d2c"


@dataclass
class SandboxOrg:
    base_url: str
    ca_file: Path
    state: SalesforceState
    clock: SandboxClock
    key_pem: str


def _self_signed(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syncd connected app")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def org(
    tmp_path_factory: pytest.TempPathFactory, rsa_key: rsa.RSAPrivateKey, rsa_pem: str
) -> Iterator[SandboxOrg]:
    clock = suite_clock()
    state = build_salesforce_state(clock=clock, seed=11)
    state.org.add_user(INTEGRATION_USER, "Sync", "Integration")
    state.org.add_user(ORGANIZER, "Ada", "Lovelace")
    # The connected app: the certificate of syncd's key (JWT bearer) and a consumer
    # secret run as the integration user (client credentials).
    state.register_connected_app(JWT_CLIENT_ID, certificate_pem=_self_signed(rsa_key))
    state.register_connected_app(CC_CLIENT_ID, client_secret=CC_SECRET, run_as=INTEGRATION_USER)
    tls = make_tls(tmp_path_factory.mktemp("sf-sandbox"))
    sock = bind_tcp("127.0.0.1", 0)  # TCP_NODELAY on each connection
    config = uvicorn.Config(
        build_salesforce_app(state),
        ssl_certfile=str(tls.cert_file),
        ssl_keyfile=str(tls.key_file),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.01)
    yield SandboxOrg(
        f"https://127.0.0.1:{sock.getsockname()[1]}", tls.ca_file, state, clock, rsa_pem
    )
    server.should_exit = True
    thread.join(5)


@pytest.fixture(autouse=True)
def _fresh(org: SandboxOrg) -> Iterator[None]:
    org.state.reset()
    org.clock.reset()
    yield
    org.state.reset()
    org.clock.reset()


class Recording:
    """A Login that keeps the sessions it handed out (to check logs never show them)."""

    def __init__(self, inner: Login) -> None:
        self.inner, self.sessions = inner, []

    def login(self) -> SalesforceSession:
        session = self.inner.login()
        self.sessions.append(session)
        return session


def jwt_login(org: SandboxOrg) -> Recording:
    return Recording(
        JwtBearerLogin(
            login_url=org.base_url,
            client_id=JWT_CLIENT_ID,
            username=INTEGRATION_USER,
            private_key=org.key_pem,
            session=build_session(org.ca_file),
        )
    )


def make_client(
    org: SandboxOrg, login: Login | None = None, sleep: RecordingSleep | None = None, **kw: object
) -> SalesforceClient:
    return SalesforceClient(
        login=login or jwt_login(org),
        session=build_session(org.ca_file),
        clock=org.clock.now,
        sleep=sleep or RecordingSleep(),
        **kw,  # type: ignore[arg-type]
    )


def _organizer_id(org: SandboxOrg) -> str:
    found = org.state.org.find_user(ORGANIZER)
    assert found is not None
    return found


def _event(org: SandboxOrg, subject: str, start: datetime | None = None) -> str:
    start = start or datetime(2026, 4, 1, 9, tzinfo=UTC)
    return org.state.org.create_event(ORGANIZER, subject, start, start + timedelta(hours=1))


# ------------------------------------------------------------------------------ logins


def test_jwt_bearer_login_then_query(org: SandboxOrg) -> None:
    login = jwt_login(org)
    client = make_client(org, login)
    rows = list(client.query(soql("SELECT Id, Email FROM User WHERE Email = {e}", e=ORGANIZER)))
    assert [r["Email"] for r in rows] == [ORGANIZER]
    assert len(login.sessions) == 1
    assert login.sessions[0].instance_url == org.base_url
    assert client.usage.snapshot()["logins"] == 1


def test_client_credentials_login_and_a_wrong_secret(
    org: SandboxOrg, caplog: pytest.LogCaptureFixture
) -> None:
    good = ClientCredentialsLogin(
        login_url=org.base_url,
        client_id=CC_CLIENT_ID,
        client_secret=CC_SECRET,
        session=build_session(org.ca_file),
    )
    session = good.login()
    assert session.instance_url == org.base_url
    assert session.issued_at.tzinfo is not None  # from the answer's issued_at
    client = make_client(org, good)
    assert list(client.query("SELECT Id FROM User WHERE IsActive = true"))

    caplog.set_level(logging.DEBUG, logger="syncd")
    wrong = ClientCredentialsLogin(
        login_url=org.base_url,
        client_id=CC_CLIENT_ID,
        client_secret="not-the-secret",
        session=build_session(org.ca_file),
    )
    client = make_client(org, wrong)
    with pytest.raises(SyncdError) as caught:
        list(client.query("SELECT Id FROM User"))
    error = caught.value
    assert error.code is ErrorCode.ACCESS_DENIED
    assert CC_CLIENT_ID in error.message and org.base_url in error.message
    assert "invalid_client" in error.message
    assert "not-the-secret" not in error.message and "not-the-secret" not in caplog.text
    assert client.usage.calls() == 0


def test_token_endpoint_hiccup_is_retried(org: SandboxOrg) -> None:
    org.state.faults.fail_next(503, resource="oauth")
    sleep = RecordingSleep()
    client = make_client(org, sleep=sleep)
    assert list(client.query("SELECT Id FROM User"))
    assert sleep.waits == [1.0]


# ------------------------------------------------------------------------------ queries


def test_query_pages_through_more_than_2000_rows(org: SandboxOrg) -> None:
    base = datetime(2026, 5, 1, tzinfo=UTC)
    with org.state.org.lock:
        created = {
            _event(org, f"Paging {i}", base + timedelta(minutes=30 * i)) for i in range(4100)
        }
    client = make_client(org)
    rows = client.query(
        soql(
            "SELECT Id, Subject FROM Event WHERE OwnerId = {owner} AND Subject LIKE 'Paging%'",
            owner=_organizer_id(org),
        )
    )
    first_page = [next(rows) for _ in range(2000)]
    assert client.usage.calls() == 1  # the second page is fetched only when needed
    ids = {r["Id"] for r in [*first_page, *rows]}
    assert ids == created
    usage = client.usage.snapshot()
    assert usage["calls"] == {"query": 1, "queryMore": 2}
    used, limit = org.state.budget.usage()
    assert usage["api_usage"] == {"used": used, "max": limit}


def test_hostile_strings_stay_values(org: SandboxOrg) -> None:
    hostile = [
        "O'Brien",
        "x' OR Subject != 'y",
        "back\\slash' OR Id != '",
        'double " quote',
        "100%_sure",
    ]
    ids = {subject: _event(org, subject) for subject in hostile}
    _event(org, "100 x sure")
    client = make_client(org)
    for subject in hostile:
        rows = list(
            client.query(soql("SELECT Id, Subject FROM Event WHERE Subject = {s}", s=subject))
        )
        assert [(r["Id"], r["Subject"]) for r in rows] == [(ids[subject], subject)]
    like = list(
        client.query(soql("SELECT Id FROM Event WHERE Subject LIKE '{p:like}%'", p="100%_"))
    )
    assert [r["Id"] for r in like] == [ids["100%_sure"]]


def test_bad_query_is_invalid_request_with_salesforce_code(org: SandboxOrg) -> None:
    client = make_client(org)
    with pytest.raises(SyncdError) as caught:
        list(client.query("SELECT NoSuchField__c FROM Event"))
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "INVALID_FIELD" in caught.value.message
    assert client.usage.snapshot()["retries"] == 0


# --------------------------------------------------------------------- session expiry


def test_expired_session_is_survived_with_exactly_one_new_login(
    org: SandboxOrg, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="syncd")
    login = jwt_login(org)
    client = make_client(org, login)
    assert list(client.query("SELECT Id FROM User"))
    # Salesforce's session timeout counts inactivity; let it pass.
    org.state.auth.session_timeout_seconds = 600
    org.clock.advance(601)

    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(len(list(client.query("SELECT Id FROM User"))))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and results == [2] * 6
    assert len(login.sessions) == 2  # the first login and exactly one more
    usage = client.usage.snapshot()
    assert (usage["logins"], usage["relogins"]) == (2, 1)
    assert org.state.counters.snapshot()["session_refusals"] >= 1

    tokens = [s.access_token for s in login.sessions]
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("syncd"))
    assert "logging in again" in ours
    assert not any(token in ours for token in tokens)
    assert "eyJ" not in ours  # no JWT assertion either


def test_revoked_sessions_are_refused_again_then_access_denied(org: SandboxOrg) -> None:
    client = make_client(org)
    assert list(client.query("SELECT Id FROM User"))
    org.state.revoke_sessions()
    # The new session is refused too: one new login, one retry, then a clear error.
    org.state.faults.fail_next(401, resource="query")
    with pytest.raises(SyncdError) as caught:
        list(client.query("SELECT Id FROM User"))
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert client.usage.snapshot()["relogins"] == 1


# ---------------------------------------------------------------------- API budget


def test_exhausted_budget_is_waited_out(org: SandboxOrg) -> None:
    # The org spent its allowance almost 24 hours ago; it frees up 100 s from now.
    org.clock.freeze()
    org.state.budget.configure(daily_limit=50, used=50)
    org.clock.advance(24 * 3600 - 100)
    sleep = RecordingSleep(on_sleep=org.clock.advance)
    client = make_client(org, sleep=sleep)
    rows = list(client.query("SELECT Id FROM User"))
    assert len(rows) == 2
    assert sleep.waits == [30, 60, 120]  # the third wait crosses the 100 s
    usage = client.usage.snapshot()
    assert usage["limit_refusals"] == 3
    assert (usage["limit_waits"], usage["limit_wait_seconds"]) == (3, 210)
    assert usage["api_usage"]["used"] <= 50


def test_budget_that_stays_spent_ends_in_throttled(org: SandboxOrg) -> None:
    org.clock.freeze()
    org.state.budget.configure(daily_limit=50, used=50)
    sleep = RecordingSleep(on_sleep=org.clock.advance)
    client = make_client(org, sleep=sleep, max_limit_wait_seconds=100)
    with pytest.raises(SyncdError) as caught:
        list(client.query("SELECT Id FROM User"))
    error = caught.value
    assert error.code is ErrorCode.THROTTLED
    assert error.retry_after == 240
    assert "REQUEST_LIMIT_EXCEEDED" in error.message
    assert sleep.waits == [30, 60, 10]  # within max_limit_wait_seconds in all
    assert client.usage.snapshot()["limit_refusals"] == 4


# ---------------------------------------------------------------- transient errors


def test_server_errors_are_retried_then_reported(org: SandboxOrg) -> None:
    sleep = RecordingSleep()
    client = make_client(org, sleep=sleep)
    org.state.faults.fail_next(503, resource="query")
    assert list(client.query("SELECT Id FROM User"))
    assert sleep.waits == [1.0]

    org.state.faults.fail_next(503, 500, 503, 503, resource="query")
    with pytest.raises(SyncdError) as caught:
        list(client.query("SELECT Id FROM User"))
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert caught.value.retryable
    assert sleep.waits == [1.0, 1.0, 2.0, 4.0]
    assert client.usage.snapshot()["retries"] == 4


# ---------------------------------------------------------------------- write-back


def test_collections_update_partly_fails_per_record_in_chunks(org: SandboxOrg) -> None:
    ids = [_event(org, f"Write {i}") for i in range(250)]
    gone = ids[7]
    org.state.org.delete_event(gone)
    locked = ids[210]
    org.state.faults.fail_records(locked, "UNABLE_TO_LOCK_ROW")
    client = make_client(org)
    results = client.update_records(
        "Event", [{"Id": event_id, "Subject": f"Renamed {n}"} for n, event_id in enumerate(ids)]
    )
    assert [r.id for r in results] == ids
    failed = {r.id: r.errors for r in results if not r.success}
    assert set(failed) == {gone, locked}
    assert failed[locked][0].startswith("UNABLE_TO_LOCK_ROW: ")
    assert failed[gone][0].split(":")[0] in ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY")
    assert client.usage.snapshot()["calls"] == {"composite": 2}  # 200 + 50
    assert org.state.org.get(ids[0])["Subject"] == "Renamed 0"  # type: ignore[index]
    assert org.state.org.get(ids[249])["Subject"] == "Renamed 249"  # type: ignore[index]
    assert org.state.org.get(locked)["Subject"] == "Write 210"  # type: ignore[index]


def test_update_record_writes_one_record(org: SandboxOrg) -> None:
    event_id = _event(org, "Single")
    client = make_client(org)
    client.update_record("Event", event_id, {"Subject": "Single, renamed"})
    assert org.state.org.get(event_id)["Subject"] == "Single, renamed"  # type: ignore[index]


# --------------------------------------------------------------------- replication


def test_updated_and_deleted_windows(org: SandboxOrg) -> None:
    # A day ahead, so that other tests' deletions fall outside the window.
    ahead = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
    start = org.clock.freeze(ahead)
    kept = _event(org, "Kept")
    dropped = _event(org, "Dropped")
    org.clock.advance(60)
    org.state.org.delete_event(dropped)
    org.clock.advance(120)
    client = make_client(org)
    end = org.clock.now()

    ids, latest = client.updated("Event", start, end)
    assert kept in ids
    assert latest <= end

    result = client.deleted("Event", start, end)
    assert [r.id for r in result.records] == [dropped]
    assert not result.missed(start)
    assert result.latest_date_covered is not None and result.latest_date_covered <= end

    with pytest.raises(SyncdError) as caught:
        client.deleted("Event", end - timedelta(days=16), end)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "full resync" in caught.value.message
