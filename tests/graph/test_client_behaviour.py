"""Behaviour a sandbox cannot be made to show on demand, against a scripted local server:
retries and their bounds, token refresh, per-mailbox concurrency, timeouts, the
client-request-id mapping, error mapping, paging and batching mechanics."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from syncd.domain import ErrorCode, SyncdError
from syncd.graph import GraphClient, GraphRequest
from syncd.logs import log_context

from .conftest import RecordingSleep, Reply, ScriptedServer, Seen, StaticTokens

MAILBOX = "ada@contoso.com"
EVENT = {"id": "AAMkAD=", "subject": "Quarterly review", "changeKey": "ck1"}
Serve = Callable[..., ScriptedServer]
MakeClient = Callable[..., GraphClient]


def graph_error(status: int, code: str, message: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers)


def sequence(*replies: Reply) -> Callable[[Seen], Reply]:
    """Answer with each reply in turn, then keep repeating the last."""
    queue = list(replies)
    lock = threading.Lock()

    def handler(_: Seen) -> Reply:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


# ------------------------------------------------------------------ retries


def test_retry_after_is_honoured(
    serve: Serve, make_client: MakeClient, fake_sleep: RecordingSleep
) -> None:
    server = serve(
        sequence(
            graph_error(
                429, "TooManyRequests", "Please retry again later.", **{"Retry-After": "3"}
            ),
            Reply(200, EVENT),
        )
    )
    client = make_client(server.graph_url)

    assert client.get_event(MAILBOX, "AAMkAD=") == EVENT
    assert fake_sleep.waits == [3.0]
    counts = client.counter.snapshot()
    assert (counts["http_round_trips"], counts["retries"], counts["throttled_responses"]) == (
        2,
        1,
        1,
    )


def test_throttling_past_max_retries_raises_throttled(
    serve: Serve, make_client: MakeClient, fake_sleep: RecordingSleep
) -> None:
    server = serve(
        sequence(
            graph_error(429, "ApplicationThrottled", "MailboxConcurrency", **{"Retry-After": "1"})
        )
    )
    client = make_client(server.graph_url, max_retries=3)

    with pytest.raises(SyncdError) as caught:
        client.get_event(MAILBOX, "AAMkAD=")
    assert caught.value.code is ErrorCode.THROTTLED
    assert caught.value.retry_after == 1.0
    assert MAILBOX in caught.value.message
    assert fake_sleep.waits == [1.0, 1.0, 1.0]
    assert len(server.seen) == 4


def test_total_wait_never_exceeds_budget(
    serve: Serve, make_client: MakeClient, fake_sleep: RecordingSleep
) -> None:
    server = serve(sequence(graph_error(429, "TooManyRequests", "later", **{"Retry-After": "40"})))
    client = make_client(server.graph_url, max_retries=10, max_retry_wait_seconds=100)

    with pytest.raises(SyncdError) as caught:
        client.get_event(MAILBOX, "AAMkAD=")
    assert caught.value.code is ErrorCode.THROTTLED
    assert fake_sleep.waits == [40.0, 40.0]  # a third wait would pass 100 s
    assert caught.value.retry_after == 40.0
    assert len(server.seen) == 3


def test_503_without_retry_after_backs_off_then_upstream_unavailable(
    serve: Serve, make_client: MakeClient, fake_sleep: RecordingSleep
) -> None:
    server = serve(sequence(graph_error(503, "ServiceUnavailable", "busy")))
    client = make_client(server.graph_url, max_retries=4)

    with pytest.raises(SyncdError) as caught:
        client.update_event(MAILBOX, "AAMkAD=", {"subject": "x"})
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert caught.value.retry_after is not None
    assert len(fake_sleep.waits) == 4
    # exponential: each ceiling doubles (0.5, 1, 2, 4 s), jitter keeps each in [ceiling/2, ceiling]
    for n, wait in enumerate(fake_sleep.waits):
        assert 0.25 * 2**n <= wait <= 0.5 * 2**n


def test_504_then_success_for_create(serve: Serve, make_client: MakeClient) -> None:
    server = serve(sequence(graph_error(504, "GatewayTimeout", "slow"), Reply(201, EVENT)))
    client = make_client(server.graph_url)

    assert client.create_event(MAILBOX, {"subject": "s", "transactionId": "t1"}) == EVENT
    bodies = [s.body for s in server.seen]
    assert bodies == [{"subject": "s", "transactionId": "t1"}] * 2  # the same transactionId again


# -------------------------------------------------------------------- tokens


def test_401_forces_exactly_one_token_refresh(
    serve: Serve, make_client: MakeClient, tokens: StaticTokens
) -> None:
    server = serve(
        sequence(graph_error(401, "InvalidAuthenticationToken", "expired"), Reply(200, EVENT))
    )
    client = make_client(server.graph_url)

    assert client.get_event(MAILBOX, "AAMkAD=") == EVENT
    assert tokens.forced == 1
    assert [s.headers["authorization"] for s in server.seen] == ["Bearer token-1", "Bearer token-2"]


def test_401_twice_is_access_denied_without_the_token(
    serve: Serve, make_client: MakeClient, tokens: StaticTokens, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(
        sequence(graph_error(401, "InvalidAuthenticationToken", "Access token validation failure."))
    )
    client = make_client(server.graph_url)

    with caplog.at_level(logging.DEBUG, logger="syncd.graph"), pytest.raises(SyncdError) as caught:
        client.get_event(MAILBOX, "AAMkAD=")
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert tokens.forced == 1
    assert len(server.seen) == 2
    assert "token-" not in caught.value.message
    assert all("token-" not in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------- concurrency


def test_at_most_four_requests_in_flight_per_mailbox(serve: Serve, make_client: MakeClient) -> None:
    server = serve(lambda seen: Reply(200, EVENT, delay=0.03))
    client = make_client(server.graph_url)
    other = "grace@contoso.com"

    def work(mailbox: str) -> None:
        for _ in range(3):
            client.get_event(mailbox, "AAMkAD=")

    threads = [
        threading.Thread(target=work, args=(MAILBOX if n % 4 else other,)) for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(server.seen) == 60
    assert server.max_in_flight[MAILBOX] == 4  # the limit, and reached
    assert 2 <= server.max_in_flight[other] <= 4  # mailboxes do not share slots


def test_batches_take_slots_in_every_mailbox_they_touch(
    serve: Serve, make_client: MakeClient
) -> None:
    def handler(seen: Seen) -> Reply:
        if seen.path.endswith("/$batch"):
            inner = seen.body["requests"]
            return Reply(
                200,
                {"responses": [{"id": r["id"], "status": 200, "body": EVENT} for r in inner]},
                delay=0.03,
            )
        return Reply(200, EVENT, delay=0.03)

    server = serve(handler)
    client = make_client(server.graph_url)
    items = [(MAILBOX, f"id{n}") for n in range(3)] + [("grace@contoso.com", "g1")]

    def batches() -> None:
        for _ in range(3):
            client.get_events_batch(items)

    def singles() -> None:
        for _ in range(3):
            client.get_event(MAILBOX, "AAMkAD=")

    threads = [threading.Thread(target=batches) for _ in range(4)] + [
        threading.Thread(target=singles) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert server.max_in_flight[MAILBOX] <= 4
    assert server.max_in_flight["grace@contoso.com"] <= 4


# --------------------------------------------------------- correlation ids


@pytest.mark.parametrize(
    "correlation",
    ["1234567β9012-3456-789012345678", "ac7b40b4-2c33-723b-8aaie-8bpf077z7539"],
)
def test_non_guid_correlation_id_is_mapped_with_uuid5_and_logged_once(
    serve: Serve, make_client: MakeClient, caplog: pytest.LogCaptureFixture, correlation: str
) -> None:
    server = serve(lambda seen: Reply(200, EVENT))
    client = make_client(server.graph_url)
    expected = str(uuid.uuid5(uuid.NAMESPACE_URL, correlation))

    with caplog.at_level(logging.DEBUG, logger="syncd.graph"):
        client.get_event(MAILBOX, "AAMkAD=", correlation_id=correlation)
        client.get_event(MAILBOX, "AAMkAD=", correlation_id=correlation)

    assert [s.headers["client-request-id"] for s in server.seen] == [expected, expected]
    assert all(s.headers["return-client-request-id"] == "true" for s in server.seen)
    mapping_lines = [r for r in caplog.records if "not a GUID" in r.getMessage()]
    assert len(mapping_lines) == 1
    assert expected in mapping_lines[0].getMessage()
    assert caplog.records and all(r.correlation_id == correlation for r in caplog.records)


def test_correlation_id_of_the_work_in_hand_is_used_when_none_is_given(
    serve: Serve, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(lambda seen: Reply(200, EVENT))
    client = make_client(server.graph_url)

    with caplog.at_level(logging.DEBUG, logger="syncd.graph"), log_context(correlation="sf-42"):
        client.get_event(MAILBOX, "AAMkAD=")

    assert server.seen[0].headers["client-request-id"] == str(
        uuid.uuid5(uuid.NAMESPACE_URL, "sf-42")
    )
    assert caplog.records and all(r.correlation_id == "sf-42" for r in caplog.records)


def test_guid_correlation_id_is_sent_as_is(serve: Serve, make_client: MakeClient) -> None:
    server = serve(lambda seen: Reply(200, EVENT))
    client = make_client(server.graph_url)
    correlation = "2F1B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D"

    client.get_event(MAILBOX, "AAMkAD=", correlation_id=correlation)
    client.get_event(MAILBOX, "AAMkAD=")  # no id: a fresh GUID per call

    first, second = (s.headers["client-request-id"] for s in server.seen)
    assert first == correlation.lower()
    assert uuid.UUID(second).version == 4


# ----------------------------------------------------------------- timeouts


def test_read_timeout_becomes_upstream_unavailable(
    serve: Serve, make_client: MakeClient, fake_sleep: RecordingSleep
) -> None:
    server = serve(lambda seen: Reply(hang=True))
    client = make_client(server.graph_url, read_timeout_seconds=0.2, max_retries=1)

    with pytest.raises(SyncdError) as caught:
        client.get_event(MAILBOX, "AAMkAD=")
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert "0.2 s" in caught.value.message
    assert len(server.seen) == 2 and len(fake_sleep.waits) == 1


def test_connection_refused_becomes_upstream_unavailable(make_client: MakeClient) -> None:
    client = make_client("http://127.0.0.1:9/v1.0", max_retries=2)

    with pytest.raises(SyncdError) as caught:
        client.delete_event(MAILBOX, "AAMkAD=")
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE


def test_delete_whose_answer_was_lost_is_done_when_retry_finds_nothing(
    serve: Serve, make_client: MakeClient
) -> None:
    server = serve(sequence(Reply(hang=True), graph_error(404, "ErrorItemNotFound", "gone")))
    client = make_client(server.graph_url, read_timeout_seconds=0.2)

    assert client.delete_event(MAILBOX, "AAMkAD=") is None
    assert [s.method for s in server.seen] == ["DELETE", "DELETE"]


# -------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "ErrorItemNotFound", ErrorCode.MEETING_NOT_FOUND),
        (404, "MailboxNotEnabledForRESTAPI", ErrorCode.MAILBOX_NOT_FOUND),
        (404, "ErrorInvalidUser", ErrorCode.MAILBOX_NOT_FOUND),
        (400, "ErrorInvalidIdMalformed", ErrorCode.MEETING_NOT_FOUND),
        (403, "ErrorAccessDenied", ErrorCode.ACCESS_DENIED),
        (400, "ErrorInvalidRequest", ErrorCode.INVALID_REQUEST),
        (409, "ErrorIrresolvableConflict", ErrorCode.UPSTREAM_UNAVAILABLE),
        (500, "InternalServerError", ErrorCode.UPSTREAM_UNAVAILABLE),
    ],
)
def test_graph_errors_map_to_contract_codes(
    serve: Serve, make_client: MakeClient, status: int, code: str, expected: ErrorCode
) -> None:
    server = serve(
        lambda seen: graph_error(status, code, f"Graph says {code}", **{"request-id": "rid-7"})
    )
    client = make_client(server.graph_url)

    with pytest.raises(SyncdError) as caught:
        client.get_event(MAILBOX, "AAMkAD=")
    assert caught.value.code is expected
    assert MAILBOX in caught.value.message
    assert f"Graph says {code}" in caught.value.message
    assert "rid-7" in caught.value.message
    assert len(server.seen) == 1  # none of these is retried


def test_get_user_is_none_for_unknown_users(serve: Serve, make_client: MakeClient) -> None:
    def handler(seen: Seen) -> Reply:
        if "nobody" in seen.path:
            return graph_error(
                404, "Request_ResourceNotFound", "Resource 'nobody@contoso.com' does not exist"
            )
        return Reply(200, {"id": "u1", "mail": MAILBOX})

    server = serve(handler)
    client = make_client(server.graph_url)

    assert client.get_user("nobody@contoso.com") is None
    assert client.get_user(MAILBOX) == {"id": "u1", "mail": MAILBOX}
    assert urlsplit(server.seen[1].path).path == f"/v1.0/users/{MAILBOX}"


# ------------------------------------------------------- find / paging / create


def test_find_by_property_quotes_pages_and_checks_exact_value(
    serve: Serve, make_client: MakeClient
) -> None:
    key_id = "String {8d3c2a5e-6f1b-4c7e-9a44-5b1f0e2d7c61} Name syncdExternalKey"
    value = "acme:api:O'Brien-1"

    def stamped(event_id: str, stamp: str) -> dict[str, Any]:
        return {"id": event_id, "singleValueExtendedProperties": [{"id": key_id, "value": stamp}]}

    def handler(seen: Seen) -> Reply:
        if "skiptoken" in seen.path:
            return Reply(200, {"value": [stamped("right", value)]})
        next_link = server.graph_url + f"/users/{MAILBOX}/events?$skiptoken=2"
        # Graph's value filter ignores case: a near-miss comes back too.
        return Reply(200, {"value": [stamped("near", value.upper())], "@odata.nextLink": next_link})

    server = serve(handler)
    client = make_client(server.graph_url)

    assert client.find_event_by_property(MAILBOX, key_id, value)["id"] == "right"
    query = parse_qs(urlsplit(server.seen[0].path).query)
    match = f"ep: ep/id eq '{key_id}' and ep/value eq 'acme:api:O''Brien-1'"
    assert query["$filter"] == [f"singleValueExtendedProperties/Any({match})"]
    assert query["$expand"] == [f"singleValueExtendedProperties($filter=id eq '{key_id}')"]
    assert query["$top"] == ["5"]
    assert "%20" in server.seen[0].path and "+" not in server.seen[0].path
    assert all(s.headers["prefer"] == 'outlook.timezone="UTC"' for s in server.seen)


def test_next_link_to_another_host_is_not_followed(serve: Serve, make_client: MakeClient) -> None:
    server = serve(
        lambda seen: Reply(200, {"value": [], "@odata.nextLink": "https://evil.example/v1.0/x"})
    )
    client = make_client(server.graph_url)

    with pytest.raises(SyncdError) as caught:
        client.find_event_by_property(MAILBOX, "String {x} Name k", "v")
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert len(server.seen) == 1


def test_a_409_on_create_is_an_error_not_a_lookup(serve: Serve, make_client: MakeClient) -> None:
    """Graph answers a repeated transactionId with 201 and the first event (resources/event,
    transactionId); it documents no 409 for it, so the client does not guess one: the
    error goes to the core, whose next attempt looks the event up by its key."""
    key = {
        "id": "String {8d3c2a5e-6f1b-4c7e-9a44-5b1f0e2d7c61} Name syncdExternalKey",
        "value": "k1",
    }

    def handler(seen: Seen) -> Reply:
        if seen.method == "POST":
            return graph_error(409, "ErrorIrresolvableConflict", "conflict")
        return Reply(200, {"value": [{"id": "existing", "singleValueExtendedProperties": [key]}]})

    server = serve(handler)
    client = make_client(server.graph_url)

    with pytest.raises(SyncdError) as caught:
        client.create_event(MAILBOX, {"transactionId": "t", "singleValueExtendedProperties": [key]})
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert [s.method for s in server.seen] == ["POST"]


def test_cancel_posts_comment(serve: Serve, make_client: MakeClient) -> None:
    server = serve(lambda seen: Reply(202))
    client = make_client(server.graph_url)

    client.cancel_event(MAILBOX, "AAMkAD=", "Cancelled in Salesforce")
    (seen,) = server.seen
    assert (seen.method, unquote(seen.path)) == (
        "POST",
        f"/v1.0/users/{MAILBOX}/events/AAMkAD=/cancel",
    )
    assert seen.body == {"comment": "Cancelled in Salesforce"}


# --------------------------------------------------------------------- batch


def _batch_handler(
    refuse: Callable[[dict[str, Any]], bool] = lambda r: False,
) -> Callable[[Seen], Reply]:
    def handler(seen: Seen) -> Reply:
        responses = []
        for inner in reversed(seen.body["requests"]):  # Graph may answer in any order
            if refuse(inner):
                responses.append(
                    {"id": inner["id"], "status": 429, "headers": {"Retry-After": "2"}, "body": {}}
                )
            else:
                responses.append({"id": inner["id"], "status": 200, "body": {"url": inner["url"]}})
        return Reply(200, {"responses": responses})

    return handler


def test_batch_splits_by_20_and_keeps_input_order(serve: Serve, make_client: MakeClient) -> None:
    server = serve(_batch_handler())
    client = make_client(server.graph_url)
    requests = [
        GraphRequest("GET", f"/users/u{n}@contoso.com/events/e{n}", mailbox=f"u{n}@contoso.com")
        for n in range(45)
    ]

    answers = client.batch(requests)

    assert [a.body["url"] for a in answers] == [r.url for r in requests]
    assert [len(s.body["requests"]) for s in server.seen] == [20, 20, 5]
    assert client.counter.snapshot()["graph_requests"] == 45


def test_batch_gives_back_still_throttled_answers_when_budget_is_spent(
    serve: Serve, make_client: MakeClient, fake_sleep: RecordingSleep
) -> None:
    server = serve(_batch_handler(refuse=lambda inner: inner["url"].endswith("/e1")))
    client = make_client(server.graph_url, max_retries=2)
    requests = [
        GraphRequest("GET", f"/users/{MAILBOX}/events/e{n}", mailbox=MAILBOX) for n in range(3)
    ]

    answers = client.batch(requests)

    assert [a.status for a in answers] == [200, 429, 200]
    assert [len(s.body["requests"]) for s in server.seen] == [3, 1, 1]
    assert fake_sleep.waits == [2.0, 2.0]


def test_get_events_batch_prefers_utc_on_each_request(
    serve: Serve, make_client: MakeClient
) -> None:
    server = serve(_batch_handler())
    client = make_client(server.graph_url)

    client.get_events_batch([(MAILBOX, "e1")], select=["subject", "start"])

    (inner,) = server.seen[0].body["requests"]
    assert inner == {
        "id": "1",
        "method": "GET",
        "url": f"/users/{MAILBOX}/events/e1?$select=subject,start",
        "headers": {"Prefer": 'outlook.timezone="UTC"'},
    }


# -------------------------------------------------------------- getSchedule


def test_get_schedule_chunks_addresses_and_periods_into_one_batch(
    serve: Serve, make_client: MakeClient
) -> None:
    def handler(seen: Seen) -> Reply:
        responses = []
        for inner in seen.body["requests"]:
            body = inner["body"]
            start = body["startTime"]["dateTime"]
            values = [
                {
                    "scheduleId": address,
                    "availabilityView": "0",
                    "scheduleItems": [
                        {
                            "status": "busy",
                            "start": {"dateTime": start + ".0000000", "timeZone": "UTC"},
                            "end": {"dateTime": start[:11] + "23:00:00.0000000", "timeZone": "UTC"},
                        }
                    ],
                }
                for address in body["schedules"]
            ]
            responses.append({"id": inner["id"], "status": 200, "body": {"value": values}})
        return Reply(200, {"responses": responses})

    server = serve(handler)
    client = make_client(server.graph_url)
    addresses = [f"user{n}@contoso.com" for n in range(45)]
    start = datetime(2025, 1, 1, tzinfo=UTC)

    result = client.get_schedule(
        MAILBOX, addresses, start, start + timedelta(days=100), interval_minutes=30
    )

    (batch,) = server.seen
    inner = batch.body["requests"]
    assert len(inner) == 6  # 3 groups of addresses x 2 periods
    for request in inner:
        body = request["body"]
        assert request["url"] == f"/users/{MAILBOX}/calendar/getSchedule"
        assert request["headers"]["Prefer"] == 'outlook.timezone="UTC"'
        assert len(body["schedules"]) <= 20
        begin = datetime.fromisoformat(body["startTime"]["dateTime"])
        finish = datetime.fromisoformat(body["endTime"]["dateTime"])
        assert finish - begin < timedelta(days=62)
    assert [r["scheduleId"] for r in result] == addresses
    assert all(len(r["scheduleItems"]) == 2 and r["availabilityView"] == "00" for r in result)


def test_get_schedule_rejects_an_empty_period(make_client: MakeClient) -> None:
    client = make_client("http://127.0.0.1:9/v1.0")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(SyncdError) as caught:
        client.get_schedule(MAILBOX, [MAILBOX], start, start)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
