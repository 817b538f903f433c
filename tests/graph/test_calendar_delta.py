"""GraphClient.calendar_view_delta: Microsoft's documented example (cassette), and over a
scripted server what the sandbox cannot be made to show on demand: many mailboxes'
pages in $batch envelopes of 20, a link pointing elsewhere, an expired token in the
middle of a $batch. The round trip against the sandbox is in tests/contract."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import vcr

from syncd.domain import ErrorCode
from syncd.graph import GraphClient, build_session
from syncd.graph.delta import DeltaRequest
from syncd.metrics.routes import graph_inner_route

from .conftest import RecordingSleep, Reply, ScriptedServer, Seen, StaticTokens
from .test_cassettes import CASSETTES, GRAPH_URL, READ_EVENT_FIELDS, Recorder, _pinned_headers

START = datetime(2031, 3, 1, tzinfo=UTC)
END = datetime(2031, 4, 1, tzinfo=UTC)


def test_the_documented_example_parses_into_one_full_round_then_the_changes() -> None:
    player = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=("method", "path", "query", "body", "pinned_headers"),
        before_record_request=Recorder(),
    )
    player.register_matcher("pinned_headers", _pinned_headers)
    client = GraphClient(
        graph_url=GRAPH_URL,
        tokens=StaticTokens(),
        session=build_session(None),
        sleep=RecordingSleep(),
    )
    client.delta_page_size = 2  # the example's Prefer: odata.maxpagesize=2
    mailbox = "samanthab@contoso.onmicrosoft.com"
    window = (datetime(2016, 12, 1, tzinfo=UTC), datetime(2016, 12, 30, tzinfo=UTC))
    with player.use_cassette("calendar_view_delta.yaml", allow_playback_repeats=False) as tape:
        (first,) = client.calendar_view_delta([DeltaRequest(mailbox, *window)])
        (second,) = client.calendar_view_delta(
            [DeltaRequest(mailbox, *window, delta_link=first.delta_link)]
        )
        assert tape.all_played

    assert first.error is None and first.full_read and not first.expired
    assert [e["subject"] for e in first.changed] == [
        "Plan shopping list", "Pick up car", "Get food", "Prepare food", "Rest!",
    ]  # fmt: skip
    assert all(set(READ_EVENT_FIELDS) - {"location"} <= e.keys() for e in first.changed)
    assert first.changed[0]["start"] == {
        "dateTime": "2016-12-09T20:30:00.0000000",
        "timeZone": "UTC",
    }
    assert first.removed == []
    assert first.requests == 3
    assert first.delta_link == (
        "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=R0usmcMDNGg0J1E"
    )
    assert second.error is None and not second.full_read
    assert [e["id"] for e in second.changed] == ["AAMkADj1HvAAA="]
    assert second.changed[0]["location"]["displayName"] == "Chapel of Saint Ignatius"
    assert second.removed == ["AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA="]
    assert second.requests == 1
    assert second.delta_link and second.delta_link.endswith("$deltatoken=R0usmcFuQtZdtpk4")
    assert client.counter.snapshot()["by_operation"] == {"calendar_view_delta": 2}


# ---------------------------------------------------------------- a scripted Graph
class DeltaScript:
    """Answers delta requests per mailbox from scripted pages; `$batch` envelopes too.

    `pages[mailbox]` is the list of page bodies of a round; page n links to n + 1
    with `$skiptoken=n+1`, the last one hands out `$deltatoken=done`. `special` maps
    a (mailbox, token) to a fixed (status, body) answer.
    """

    def __init__(self, base: Callable[[], str], pages: dict[str, list[list[dict[str, Any]]]]):
        self.base = base
        self.pages = pages
        self.special: dict[tuple[str, str], tuple[int, Any]] = {}
        self.inner: list[str] = []  # every delta URL asked for, relative, in order
        self.batches: list[int] = []  # the size of each $batch

    def __call__(self, seen: Seen) -> Reply:
        if seen.path.endswith("/$batch"):
            requests_ = seen.body["requests"]
            self.batches.append(len(requests_))
            responses = []
            for item in requests_:
                status, body = self.answer(item["url"])
                responses.append({"id": item["id"], "status": status, "body": body})
            return Reply(200, {"responses": responses})
        status, body = self.answer(seen.path.removeprefix("/v1.0"))
        return Reply(status, body)

    def answer(self, url: str) -> tuple[int, Any]:
        self.inner.append(url)
        parts = urlsplit(url)
        mailbox = parts.path.split("/")[2]
        query = parse_qs(parts.query)
        token = (query.get("$skiptoken") or query.get("$deltatoken") or ["0"])[0]
        if (mailbox, token) in self.special:
            return self.special[(mailbox, token)]
        if token == "done":  # the next round: nothing changed
            return 200, {"value": [], "@odata.deltaLink": self.link(mailbox, "$deltatoken=done")}
        number = int(token)
        pages = self.pages[mailbox]
        body: dict[str, Any] = {"value": pages[number]}
        if number + 1 < len(pages):
            body["@odata.nextLink"] = self.link(mailbox, f"$skiptoken={number + 1}")
        else:
            body["@odata.deltaLink"] = self.link(mailbox, "$deltatoken=done")
        return 200, body

    def link(self, mailbox: str, token: str) -> str:
        return f"{self.base()}/users/{mailbox}/calendarView/delta?{token}"


def event(event_id: str, subject: str = "Meeting") -> dict[str, Any]:
    return {
        "id": event_id,
        "subject": subject,
        "start": {"dateTime": "2031-03-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2031-03-10T10:00:00.0000000", "timeZone": "UTC"},
    }


def failure(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def removed(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "@removed": {"reason": "deleted"}}


@pytest.fixture
def scripted(
    serve: Callable[..., ScriptedServer], make_client: Callable[..., GraphClient]
) -> Callable[[dict[str, list[list[dict[str, Any]]]]], tuple[DeltaScript, GraphClient]]:
    def start(pages: dict[str, list[list[dict[str, Any]]]]) -> tuple[DeltaScript, GraphClient]:
        holder: dict[str, str] = {}
        script = DeltaScript(lambda: holder["base"], pages)
        server = serve(script)
        holder["base"] = server.graph_url
        return script, make_client(server.graph_url)

    return start


def test_first_pages_go_twenty_to_a_batch_then_the_next_pages_of_those_still_paging(
    scripted: Callable[..., tuple[DeltaScript, GraphClient]],
) -> None:
    mailboxes = [f"user{n:02d}@contoso.example" for n in range(25)]
    pages = {m: [[event(f"{m}-a")]] for m in mailboxes}
    pages[mailboxes[3]] = [[event("p1")], [event("p2"), removed("gone")], [event("p1", "New")]]
    script, client = scripted(pages)

    results = client.calendar_view_delta([DeltaRequest(m, START, END) for m in mailboxes])

    # page 1 of all (two envelopes, sent side by side: in either order); then mailbox 3
    # alone, no envelope
    assert sorted(script.batches) == [5, 20]
    first_pages = script.inner[:25]
    assert all(
        parse_qs(urlsplit(u).query).keys() == {"startDateTime", "endDateTime"} for u in first_pages
    )
    assert sorted(u.partition("?")[0] for u in first_pages) == [
        f"/users/{m}/calendarView/delta" for m in mailboxes
    ]
    (path, _, query) = next(u for u in first_pages if f"/{mailboxes[0]}/" in u).partition("?")
    assert path == f"/users/{mailboxes[0]}/calendarView/delta"
    assert parse_qs(query) == {
        "startDateTime": ["2031-03-01T00:00:00Z"],
        "endDateTime": ["2031-04-01T00:00:00Z"],
    }
    assert script.inner[25:] == [
        f"/users/{mailboxes[3]}/calendarView/delta?$skiptoken=1",
        f"/users/{mailboxes[3]}/calendarView/delta?$skiptoken=2",
    ]
    assert [r.mailbox for r in results] == mailboxes
    paged = results[3]
    assert [(e["id"], e["subject"]) for e in paged.changed] == [("p2", "Meeting"), ("p1", "New")]
    assert paged.removed == ["gone"]
    assert paged.requests == 3 and results[0].requests == 1
    assert all(r.full_read and r.error is None for r in results)
    assert results[0].delta_link == script.link(mailboxes[0], "$deltatoken=done")


def test_next_pages_of_several_mailboxes_share_a_batch(
    scripted: Callable[..., tuple[DeltaScript, GraphClient]],
) -> None:
    pages = {m: [[event(f"{m}-1")], [event(f"{m}-2")]] for m in ("a@x.example", "b@x.example")}
    script, client = scripted(pages)

    results = client.calendar_view_delta(
        [DeltaRequest(m, START, END) for m in ("a@x.example", "b@x.example")]
    )

    assert script.batches == [2, 2]
    assert [len(r.changed) for r in results] == [2, 2]


def test_an_expired_link_reads_the_window_afresh_and_others_are_untouched(
    scripted: Callable[..., tuple[DeltaScript, GraphClient]],
) -> None:
    pages = {"a@x.example": [[event("a1")]], "b@x.example": [[event("b1")]]}
    script, client = scripted(pages)
    gone = {"error": {"code": "syncStateNotFound", "message": "The sync state generation..."}}
    script.special[("a@x.example", "old")] = (410, gone)
    script.special[("b@x.example", "old")] = (200, {
        "value": [removed("b0")], "@odata.deltaLink": script.link("b@x.example", "$deltatoken=done")
    })  # fmt: skip

    expired, kept = client.calendar_view_delta(
        [
            DeltaRequest("a@x.example", START, END, script.link("a@x.example", "$deltatoken=old")),
            DeltaRequest("b@x.example", START, END, script.link("b@x.example", "$deltatoken=old")),
        ]
    )

    assert (expired.full_read, expired.expired, expired.error) == (True, True, None)
    assert [e["id"] for e in expired.changed] == ["a1"]
    assert expired.requests == 2
    assert script.inner[-1].startswith("/users/a@x.example/calendarView/delta?startDateTime=")
    assert (kept.full_read, kept.expired, kept.removed) == (False, False, ["b0"])


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (403, failure("ErrorAccessDenied", "Blocked by policy"), ErrorCode.ACCESS_DENIED),
        (404, failure("ErrorInvalidUser", "invalid"), ErrorCode.MAILBOX_NOT_FOUND),
        (400, failure("ErrorInvalidParameter", "no"), ErrorCode.INVALID_REQUEST),
    ],
)
def test_a_failing_mailbox_gets_its_error_and_keeps_no_link(
    scripted: Callable[..., tuple[DeltaScript, GraphClient]],
    status: int,
    body: Any,
    code: ErrorCode,
) -> None:
    script, client = scripted({"ok@x.example": [[event("o1")]], "bad@x.example": []})
    script.special[("bad@x.example", "0")] = (status, body)

    ok, bad = client.calendar_view_delta(
        [DeltaRequest("ok@x.example", START, END), DeltaRequest("bad@x.example", START, END)]
    )

    assert bad.error is not None and bad.error.code is code
    assert "bad@x.example" in bad.error.message
    assert (bad.delta_link, bad.changed, bad.requests) == (None, [], 1)
    assert ok.error is None and [e["id"] for e in ok.changed] == ["o1"]


def test_a_link_outside_graph_url_is_never_followed(
    scripted: Callable[..., tuple[DeltaScript, GraphClient]],
) -> None:
    script, client = scripted({"a@x.example": [[event("a1")]]})
    script.special[("a@x.example", "0")] = (200, {
        "value": [event("a1")],
        "@odata.nextLink": "https://attacker.example/v1.0/users/a@x.example/calendarView/delta?$skiptoken=1",
    })  # fmt: skip

    (result,) = client.calendar_view_delta([DeltaRequest("a@x.example", START, END)])

    assert result.error is not None and result.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert "not following it" in result.error.message
    assert result.delta_link is None and result.changed == []
    assert len(script.inner) == 1


def test_a_stored_link_of_another_host_starts_the_window_afresh(
    scripted: Callable[..., tuple[DeltaScript, GraphClient]],
) -> None:
    script, client = scripted({"a@x.example": [[event("a1")]]})
    foreign = "https://elsewhere.example/v1.0/users/a@x.example/calendarView/delta?$deltatoken=x"

    (result,) = client.calendar_view_delta([DeltaRequest("a@x.example", START, END, foreign)])

    assert result.full_read and result.error is None
    assert [u.split("?")[1].split("=")[0] for u in script.inner] == ["startDateTime"]


def test_delta_requests_ask_for_utc_and_a_page_size_and_are_labelled(
    serve: Callable[..., ScriptedServer], make_client: Callable[..., GraphClient]
) -> None:
    holder: dict[str, str] = {}
    script = DeltaScript(lambda: holder["base"], {"a@x.example": [[event("a1")]]})
    server = serve(script)
    holder["base"] = server.graph_url
    client = make_client(server.graph_url)

    client.calendar_view_delta([DeltaRequest("a@x.example", START, END)])

    (seen,) = server.seen
    assert seen.headers["prefer"] == 'outlook.timezone="UTC", odata.maxpagesize=200'
    assert graph_inner_route(script.inner[0]) == "/users/{user}/calendarView/delta"
    counts = client.counter.snapshot()
    assert counts["by_operation"] == {"calendar_view_delta": 1}
    assert counts["graph_requests"] == 1
    assert json.dumps(seen.body) == "null"


class GatedEnvelopes(DeltaScript):
    """Holds each $batch until another is in flight too (or a long guard runs out), and
    keeps the most envelopes seen in flight at once."""

    def __init__(self, base: Callable[[], str], pages: dict[str, list[list[dict[str, Any]]]]):
        super().__init__(base, pages)
        self.peak = 0
        self._in_flight = 0
        self._lock = threading.Condition()

    def __call__(self, seen: Seen) -> Reply:
        if not seen.path.endswith("/$batch"):
            return super().__call__(seen)
        with self._lock:
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            self._lock.notify_all()
            # A guard against a hang, not a measurement (below the client's 5 s read
            # timeout): envelopes sent one after another each wait it out alone, and
            # the peak stays 1.
            self._lock.wait_for(lambda: self._in_flight > 1 or self.peak > 1, timeout=3)
        try:
            return super().__call__(seen)
        finally:
            with self._lock:
                self._in_flight -= 1


def test_envelopes_of_many_mailboxes_are_sent_side_by_side(
    serve: Callable[..., ScriptedServer], make_client: Callable[..., GraphClient]
) -> None:
    mailboxes = [f"user{n:02d}@contoso.example" for n in range(60)]
    holder: dict[str, str] = {}
    script = GatedEnvelopes(lambda: holder["base"], {m: [[event(f"{m}-a")]] for m in mailboxes})
    server = serve(script)
    holder["base"] = server.graph_url
    client = make_client(server.graph_url)

    results = client.calendar_view_delta([DeltaRequest(m, START, END) for m in mailboxes])

    assert script.peak > 1  # envelopes in flight at once
    assert script.batches == [20, 20, 20]
    assert [r.error for r in results] == [None] * 60
    assert [[e["id"] for e in r.changed] for r in results] == [[f"{m}-a"] for m in mailboxes]
    assert all(r.delta_link and r.delta_link.endswith("$deltatoken=done") for r in results)
    # each mailbox still holds one slot per envelope: never more than one request at once
    assert {server.max_in_flight.get(m) for m in mailboxes} == {1}
