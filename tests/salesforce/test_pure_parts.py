"""The adapter's pure parts: SOQL building, backoff, collection bodies and results,
replication windows, error bodies, login set-up and the session's timeout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from syncd.config import SalesforceLogin, SecretRef
from syncd.domain import ErrorCode, SyncdError
from syncd.graph.http import build_session as build_graph_session
from syncd.salesforce import (
    JwtBearerLogin,
    SalesforceClient,
    SalesforceSession,
    WindowMissed,
    build_session,
    composite,
    login_from_config,
    soql,
)
from syncd.salesforce.backoff import limit_backoff, transient_backoff
from syncd.salesforce.errors import error_details
from syncd.salesforce.http import enforces_timeout
from syncd.salesforce.replication import check_window, parse_datetime

from .conftest import StaticLogin, session_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# ------------------------------------------------------------------------------ SOQL


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("O'Brien", r"'O\'Brien'"),
        ("x' OR Name != '", r"'x\' OR Name != \''"),
        ("back\\slash", r"'back\\slash'"),
        ('"double"', r"'\"double\"'"),
        ("line\nbreak", r"'line\nbreak'"),
    ],
)
def test_soql_quotes_and_escapes_values(value: str, literal: str) -> None:
    text = soql("SELECT Id FROM Event WHERE Subject = {s}", s=value)
    assert text.partition(" = ") == ("SELECT Id FROM Event WHERE Subject", " = ", literal)


def test_soql_formats_lists_datetimes_and_like() -> None:
    paris = timezone(timedelta(hours=1))
    text = soql(
        "SELECT Id FROM Event WHERE Id IN {ids} AND SystemModstamp > {since}"
        " AND Subject LIKE '%{word:like}%'",
        ids=["00U1", "00U2"],
        since=datetime(2026, 1, 1, 1, 0, 0, 123456, tzinfo=paris),
        word="50%_off",
    )
    assert text == (
        "SELECT Id FROM Event WHERE Id IN ('00U1','00U2') AND "
        "SystemModstamp > 2026-01-01T00:00:00+00:00 AND Subject LIKE '%50\\%\\_off%'"
    )


def test_soql_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        soql("SELECT Id FROM Event WHERE SystemModstamp > {since}", since=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="'days'"):
        soql("SELECT Id FROM Event WHERE ActivityDate IN {days}", days=[datetime(2026, 1, 1)])


# --------------------------------------------------------------------------- backoff


def test_limit_backoff_grows_and_stops_at_the_budget() -> None:
    backoff = limit_backoff(900)
    delays = []
    while (delay := backoff.next_delay()) is not None:
        delays.append(delay)
        backoff.spend(delay)
    assert delays == [30, 60, 120, 240, 300, 150]
    assert backoff.waited == 900
    assert backoff.nominal() == 300  # what THROTTLED's retry_after says


def test_transient_backoff_counts_retries() -> None:
    backoff = transient_backoff(3)
    delays = []
    while (delay := backoff.next_delay()) is not None:
        delays.append(delay)
        backoff.spend(delay)
    assert delays == [1, 2, 4]


# -------------------------------------------------------------- sObject Collections


def test_collection_payload_accepts_id_or_Id_and_keeps_one_type() -> None:
    assert composite.payload("Event", {"Id": "00U000000000001AAA", "Sync_Status__c": "Synced"}) == {
        "attributes": {"type": "Event"},
        "id": "00U000000000001AAA",
        "Sync_Status__c": "Synced",
    }
    assert composite.payload(
        "Event", {"attributes": {"type": "Event"}, "id": "00U000000000001", "X__c": None}
    ) == {"attributes": {"type": "Event"}, "id": "00U000000000001", "X__c": None}
    with pytest.raises(ValueError, match="EventRelation"):
        composite.payload(
            "Event", {"attributes": {"type": "EventRelation"}, "id": "0RE000000000001"}
        )
    with pytest.raises(ValueError, match="record id"):
        composite.payload("Event", {"id": "../../limits"})
    with pytest.raises(ValueError, match="record id"):
        composite.payload("Event", {"Subject": "no id"})


def test_collections_chunk_at_200() -> None:
    items = [{"n": i} for i in range(450)]
    assert [len(c) for c in composite.chunks(items)] == [200, 200, 50]


def test_collection_results_need_one_answer_per_record() -> None:
    sent = [composite.payload("Event", {"id": "00U000000000001"})]
    with pytest.raises(SyncdError) as caught:
        composite.results(sent, [], instance="x")
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    [result] = composite.results(sent, [{"success": False, "errors": []}], instance="x")
    assert not result.success and result.errors == ["not written (Salesforce gave no reason)"]


def test_sobject_names_are_checked() -> None:
    for bad in ("bulk", "Event/../x", "Event?q=1", ""):
        with pytest.raises(ValueError, match="sObject"):
            composite.check_sobject(bad)
    assert composite.check_sobject("My_Object__c") == "My_Object__c"


# ------------------------------------------------------------ replication windows


def test_window_is_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    start, end = check_window("updated", "Event", datetime(2026, 3, 1, 10, tzinfo=paris), NOW, NOW)
    assert start == datetime(2026, 3, 1, 9, tzinfo=UTC) and start.tzinfo is UTC
    assert end == NOW


def test_window_refusals() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_window("deleted", "Event", datetime(2026, 2, 28), NOW, NOW)
    with pytest.raises(SyncdError) as caught:
        check_window("deleted", "Event", NOW, NOW - timedelta(minutes=5), NOW)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    with pytest.raises(WindowMissed) as missed:
        check_window("deleted", "Event", NOW - timedelta(days=16), NOW, NOW)
    assert missed.value.code is ErrorCode.INVALID_REQUEST
    assert missed.value.oldest_start == NOW - timedelta(days=15)
    assert "full resync" in missed.value.message
    # getUpdated keeps 30 days, getDeleted 15.
    check_window("updated", "Event", NOW - timedelta(days=29), NOW, NOW)
    with pytest.raises(WindowMissed):
        check_window("updated", "Event", NOW - timedelta(days=31), NOW, NOW)


def test_salesforce_datetimes_parse_to_utc() -> None:
    assert parse_datetime("2013-05-07T22:07:19.000+0000") == datetime(
        2013, 5, 7, 22, 7, 19, tzinfo=UTC
    )
    assert parse_datetime("2013-05-07T22:07:19Z") == datetime(2013, 5, 7, 22, 7, 19, tzinfo=UTC)
    assert parse_datetime(None) is None and parse_datetime("soon") is None


# ------------------------------------------------------------------- error bodies


def test_error_details_reads_rest_and_oauth_bodies() -> None:
    rest = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert error_details(rest) == ("INVALID_SESSION_ID", "Session expired or invalid")
    oauth = {"error": "invalid_grant", "error_description": "expired authorization code"}
    assert error_details(oauth) == ("invalid_grant", "expired authorization code")
    assert error_details(b"<html>Down for maintenance</html>") == (
        "",
        "<html>Down for maintenance</html>",
    )


# -------------------------------------------------------------------------- login


def test_session_repr_hides_the_token() -> None:
    session = SalesforceSession("https://x.my.salesforce.com", "00D!secret-token", NOW)
    assert "secret-token" not in repr(session)


def test_login_from_config_names_the_login_never_the_secret(
    monkeypatch: pytest.MonkeyPatch, rsa_pem: str
) -> None:
    cfg = SalesforceLogin(
        login_url="https://acme.my.salesforce.com",
        flow="client_credentials",
        client_id="3MVGclient",
        client_secret=SecretRef(env="SF_TEST_SECRET"),
    )
    monkeypatch.delenv("SF_TEST_SECRET", raising=False)
    with pytest.raises(SyncdError) as caught:
        login_from_config(cfg, build_session())
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert "https://acme.my.salesforce.com" in caught.value.message
    assert "3MVGclient" in caught.value.message
    assert "SF_TEST_SECRET" in caught.value.message

    monkeypatch.setenv("SF_TEST_KEY", "-----BEGIN PRIVATE KEY-----\nnot a key\n")
    jwt_cfg = SalesforceLogin(
        client_id="3MVGclient",
        username="sync@acme.example",
        private_key=SecretRef(env="SF_TEST_KEY"),
    )
    with pytest.raises(SyncdError) as bad_key:
        login_from_config(jwt_cfg, build_session())
    assert bad_key.value.code is ErrorCode.ACCESS_DENIED
    assert "not a key" not in bad_key.value.message

    monkeypatch.setenv("SF_TEST_KEY", rsa_pem)
    assert isinstance(login_from_config(jwt_cfg, build_session()), JwtBearerLogin)


# ---------------------------------------------------------------- the HTTP session


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_session_times_out_requests_sent_without_a_timeout(silent_server: str) -> None:
    session = build_session(timeout=(1.0, 0.2))
    with pytest.raises(requests.ReadTimeout):
        session.get(silent_server + "/services/data/")  # no timeout argument
    assert enforces_timeout(session)


def test_client_refuses_a_session_without_timeouts() -> None:
    assert not enforces_timeout(build_graph_session())
    with pytest.raises(ValueError, match="build_session"):
        SalesforceClient(login=StaticLogin(), session=build_graph_session())


def test_client_logs_in_lazily() -> None:
    login = StaticLogin(session_for("https://x.my.salesforce.com"))
    client = SalesforceClient(login=login, session=build_session())
    client.query("SELECT Id FROM Event")  # an iterator nobody reads
    assert login.calls == 0
    assert client.instance_url is None
