"""The real SalesforceClient against cassettes built from Salesforce's documented examples.

Each cassette names its source page. Requests are matched on method, path and query
(plus the JSON body where the body is the contract), so these tests pin what syncd
sends; the responses are Salesforce's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import vcr
from cryptography.hazmat.primitives.asymmetric import rsa

from syncd.domain import ErrorCode, SyncdError
from syncd.salesforce import (
    DeletedRecord,
    JwtBearerLogin,
    RecordResult,
    SalesforceClient,
    build_session,
)

from .conftest import RecordingSleep, StaticLogin, ThenLogin, session_for

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "salesforce"
MY_DOMAIN = "https://MyDomainName.my.salesforce.com"
#: The API version the cassettes were recorded with (the documentation examples).
CASSETTE_API_VERSION = "59.0"
#: The JWT bearer flow page's example token response names this instance.
YOUR_INSTANCE = "https://yourInstance.salesforce.com"
DOC_TOKEN = (
    "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.39AsX.LVpxezPwuX5VAIrrbbHMuol7GQxnMeYMN7cj8Eo"
    "Wr78nt1u44zU31IbYNNJguseu"
)
#: The documented examples are from May 2013; the replication windows count from "now".
MAY_10_2013 = datetime(2013, 5, 10, 12, 0, tzinfo=UTC)


class Recorder:
    """Keeps every request the client's session sent (a requests response hook)."""

    def __init__(self) -> None:
        self.requests: list[requests.PreparedRequest] = []
        self.session = build_session(None)
        self.session.hooks["response"].append(self._seen)

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests.append(response.request)

    def paths(self) -> list[str]:
        return [urlsplit(r.url or "").path for r in self.requests]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _player(*match_on: str) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=match_on or ("method", "scheme", "host", "path", "query"),
    )


def _client(
    recorder: Recorder, instance: str = MY_DOMAIN, *, login: Any = None
) -> SalesforceClient:
    return SalesforceClient(
        login=login or StaticLogin(session_for(instance)),
        session=recorder.session,
        api_version=CASSETTE_API_VERSION,
        clock=lambda: MAY_10_2013,
        sleep=RecordingSleep(),
    )


def test_query_follows_next_records_url_lazily(recorder: Recorder) -> None:
    client = _client(recorder)
    with _player().use_cassette("query_next_records_url.yaml") as cassette:
        records = client.query("SELECT name,id from Account")
        assert cassette.play_count == 0  # nothing is sent before a record is asked for
        first_two = [next(records), next(records)]
        assert cassette.play_count == 1
        rest = list(records)
        assert cassette.all_played

    assert [r["Name"] for r in [*first_two, *rest]] == ["Test 1", "Test 2", "Test 3"]
    assert first_two[0]["attributes"]["type"] == "Account"
    assert type(first_two[0]) is dict
    sent = recorder.requests
    assert recorder.paths() == [
        "/services/data/v59.0/query/",
        "/services/data/v59.0/query/01gD0000002HU6KIAW-2000",
    ]
    assert parse_qs(urlsplit(sent[0].url or "").query) == {"q": ["SELECT name,id from Account"]}
    assert all(r.headers["Authorization"] == "Bearer 00Dxx0000001gPL!static" for r in sent)
    usage = client.usage.snapshot()
    assert usage["calls"] == {"query": 1, "queryMore": 1}
    assert usage["api_usage"] == {"used": 19, "max": 5000}  # the last Sforce-Limit-Info


def test_get_deleted_reads_records_and_window(recorder: Recorder) -> None:
    client = _client(recorder)
    with _player().use_cassette("get_deleted.yaml") as cassette:
        result = client.deleted(
            "Merchandise__c",
            datetime(2013, 5, 5, tzinfo=UTC),
            datetime(2013, 5, 10, tzinfo=UTC),
        )
        assert cassette.all_played

    assert result.records == [
        DeletedRecord("a00D0000008pQRAIA2", datetime(2013, 5, 7, 22, 7, 19, tzinfo=UTC))
    ]
    assert result.records[0][0] == "a00D0000008pQRAIA2"  # also a plain (id, deletedDate)
    assert result.earliest_date_available == datetime(2013, 5, 3, 15, 57, tzinfo=UTC)
    assert result.latest_date_covered == datetime(2013, 5, 8, 21, 20, tzinfo=UTC)
    assert not result.missed(datetime(2013, 5, 5, tzinfo=UTC))
    assert result.missed(datetime(2013, 5, 1, tzinfo=UTC))  # purged before the watermark
    assert client.usage.snapshot()["calls"] == {"deleted": 1}


def test_collections_update_partial_failure_is_per_record(recorder: Recorder) -> None:
    client = _client(recorder)
    player = _player("method", "host", "path", "query", "body")
    with player.use_cassette("collections_update_partial_failure.yaml") as cassette:
        results = client.update_records(
            "Contact",
            [
                {"Id": "003xx000004TmiQAAS", "Title": "Lead Engineer"},
                {"attributes": {"type": "Contact"}, "id": "001xx000003DGb2999",
                 "Title": "Lead Engineer"},
            ],
        )  # fmt: skip
        assert cassette.all_played

    assert results == [
        RecordResult("003xx000004TmiQAAS", True, []),
        RecordResult(
            "001xx000003DGb2999",
            False,
            [
                "MALFORMED_ID: Contact ID: id value of incorrect type: 001xx000003DGb2999"
                " (fields: Id)"
            ],
        ),
    ]
    assert recorder.requests[0].headers["Content-Type"] == "application/json"
    assert client.usage.snapshot()["calls"] == {"composite": 1}


def test_update_record_error_maps_to_invalid_request(recorder: Recorder) -> None:
    client = _client(recorder)
    player = _player("method", "host", "path", "query", "body")
    with player.use_cassette("update_record_malformed_id.yaml") as cassette:
        with pytest.raises(SyncdError) as caught:
            client.update_record("Account", "001900K0001pPuOAAU", {"BillingCity": "San Francisco"})
        assert cassette.all_played

    error = caught.value
    assert error.code is ErrorCode.INVALID_REQUEST
    assert "MALFORMED_ID" in error.message
    assert "Account ID: id value of incorrect type: 001900K0001pPuOAAU" in error.message
    assert "update Account 001900K0001pPuOAAU" in error.message


def _jwt_login(rsa_pem: str, recorder: Recorder) -> JwtBearerLogin:
    return JwtBearerLogin(
        login_url="https://login.salesforce.com",
        client_id="3MVG99OxTyEMCQ3gNp2PjkqeZKxnmAiG1xV4oHh9AKL_rSK.BoSVPGZHQukXnVjzRgSuQqGn75NL7yfkQcyy7",
        username="my@email.com",
        private_key=rsa_pem,
        session=recorder.session,
        clock=lambda: MAY_10_2013,
    )


def test_invalid_session_logs_in_again_and_retries_once(
    recorder: Recorder, rsa_pem: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    expired = session_for(YOUR_INSTANCE, "00Dxx0000001gPL!expired")
    login = ThenLogin(expired, _jwt_login(rsa_pem, recorder))
    client = _client(recorder, YOUR_INSTANCE, login=login)
    with _player().use_cassette("invalid_session_relogin.yaml") as cassette:
        ids, latest = client.updated(
            "Merchandise__c",
            datetime(2013, 5, 6, tzinfo=UTC),
            datetime(2013, 5, 10, tzinfo=UTC),
        )
        assert cassette.all_played

    assert ids == ["a00D0000008pQR5IAM", "a00D0000008pQRGIA2", "a00D0000008pQRFIA2"]
    assert latest == datetime(2013, 5, 8, 21, 20, tzinfo=UTC)
    assert login.calls == 2

    first, token_post, retry = recorder.requests
    assert first.headers["Authorization"] == "Bearer 00Dxx0000001gPL!expired"
    assert retry.headers["Authorization"] == f"Bearer {DOC_TOKEN}"
    form = {k: v[0] for k, v in parse_qs(str(token_post.body)).items()}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(
        form["assertion"],
        rsa_key.public_key(),
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims["iss"].startswith("3MVG99OxTyEMCQ3gNp2P")
    assert claims["sub"] == "my@email.com"
    assert claims["exp"] == int(MAY_10_2013.timestamp()) + 180
    assert jwt.get_unverified_header(form["assertion"])["alg"] == "RS256"

    usage = client.usage.snapshot()
    assert usage["calls"] == {"updated": 2}
    assert (usage["logins"], usage["relogins"]) == (2, 1)
    assert client.instance_url == YOUR_INSTANCE


def test_session_refused_again_after_relogin_is_access_denied(
    recorder: Recorder, rsa_pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    login = ThenLogin(
        session_for(YOUR_INSTANCE, "00Dxx0000001gPL!expired"), _jwt_login(rsa_pem, recorder)
    )
    client = _client(recorder, YOUR_INSTANCE, login=login)
    caplog.set_level("DEBUG", logger="syncd")
    with _player().use_cassette("invalid_session_rejected_again.yaml") as cassette:
        with pytest.raises(SyncdError) as caught:
            client.updated(
                "Merchandise__c",
                datetime(2013, 5, 6, tzinfo=UTC),
                datetime(2013, 5, 10, tzinfo=UTC),
            )
        assert cassette.all_played  # one new login, one retry: no loop

    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert "INVALID_SESSION_ID" in caught.value.message
    assert "yourInstance.salesforce.com" in caught.value.message
    assert login.calls == 2
    # Neither token nor assertion reaches a log line.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("syncd"))
    assert "logging in again" in ours
    assert DOC_TOKEN not in ours
    assert "!expired" not in ours
    assert "eyJ" not in ours
