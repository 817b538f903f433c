"""The session-wide check: which exchanges it holds to the schema, and that a test during
which an invalid body passed fails."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from syncd.graph.http import build_session
from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft import graph_handlers
from tests.graph_schema.exchanges import exchange_problems
from tests.graph_schema.plugin import take_problems
from tests.sandbox.helpers import event_body, fetch_token

REPO = Path(__file__).resolve().parents[2]
SYNCD = {"user-agent": "syncd/0.1.0"}
OTHER = {"user-agent": "python-requests/2.32"}
EVENTS = "/users/megan@contoso.example/events"


def test_syncd_request_bodies_are_checked_and_other_clients_are_not() -> None:
    bad = {"subjet": "x"}
    assert exchange_problems("POST", EVENTS, SYNCD, bad, 400, None) == [
        f"syncd sent POST {EVENTS} with event.subjet: no property 'subjet' on microsoft.graph.event"
    ]
    assert exchange_problems("POST", EVENTS, OTHER, bad, 400, None) == []
    assert exchange_problems("PATCH", f"{EVENTS}/AAMk=", SYNCD, {"isAllDay": 1}, 200, None) == [
        f"syncd sent PATCH {EVENTS}/AAMk= with event.isAllDay: expected true or false"
    ]
    cancel = f"{EVENTS}/AAMk=/cancel"
    assert exchange_problems("POST", cancel, SYNCD, {"Comment": "Sorry"}, 202, None) == []
    assert exchange_problems("POST", cancel, SYNCD, {"note": "x"}, 202, None) != []


def test_every_answer_is_checked_whoever_asked() -> None:
    event = {"id": "AAMk=", "subject": "x", "OnlineMeeting": None}
    expected = "no property 'OnlineMeeting' on microsoft.graph.event"
    for path in (f"{EVENTS}/AAMk=", "/users/u/calendar/events/AAMk="):
        (problem,) = exchange_problems("GET", path, OTHER, None, 200, event)
        assert problem.startswith(f"the sandbox answered GET {path} (200) with event.")
        assert expected in problem
    page = {"@odata.context": "x", "value": [event], "@odata.nextLink": "y"}
    for path in (EVENTS, "/users/u/calendarView", f"{EVENTS}/AAMk=/instances"):
        (problem,) = exchange_problems("GET", path + "?$top=5", OTHER, None, 200, page)
        assert "value[0].event.OnlineMeeting" in problem
    assert exchange_problems("GET", f"{EVENTS}/AAMk=", OTHER, None, 404, {"error": {}}) == []
    schedule = {"value": [{"scheduleId": "a@b", "availabilityView": "0", "scheduleItems": [{}]}]}
    assert (
        exchange_problems("POST", "/users/u/calendar/getSchedule", OTHER, None, 200, schedule) == []
    )
    schedule["value"][0]["scheduleItems"] = [{"status": "away"}]
    assert exchange_problems("POST", "/users/u/calendar/getSchedule", OTHER, None, 200, schedule)
    zone = {"@odata.context": "x", "value": "Pacific Standard Time"}
    assert (
        exchange_problems("GET", "/users/u/mailboxSettings/timeZone", OTHER, None, 200, zone) == []
    )
    assert exchange_problems("GET", "/users/u/mailboxSettings/timeZone", OTHER, None, 200, {})


def test_a_batch_is_unpacked_with_the_envelope_client() -> None:
    envelope = {
        "requests": [
            {"id": "1", "method": "PATCH", "url": f"{EVENTS}/A1", "body": {"showAs": "away"}},
            {"id": "2", "method": "GET", "url": f"{EVENTS}/A2?$select=subject"},
        ]
    }
    answer = {
        "responses": [
            {"id": "2", "status": 200, "body": {"id": "A2", "subject": 7}},
            {"id": "1", "status": 200, "body": {"id": "A1"}},
        ]
    }
    problems = exchange_problems("POST", "/$batch", SYNCD, envelope, 200, answer)
    assert problems == [
        f"syncd sent PATCH {EVENTS}/A1 with event.showAs: 'away' is not a member of "
        "freeBusyStatus (unknown, free, tentative, busy, oof, workingElsewhere)",
        f"the sandbox answered GET {EVENTS}/A2 (200) with event.subject: expected a string",
    ]
    assert len(exchange_problems("POST", "/$batch", OTHER, envelope, 200, answer)) == 1


def _graph_session(sandbox: RunningSandbox, session: requests.Session) -> dict[str, str]:
    token = fetch_token(session, sandbox, sandbox.tenants[0].name)
    return {"Authorization": f"Bearer {token}"}


def test_the_sandbox_hands_its_exchanges_to_the_check(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's check (this plugin, loaded by tests/conftest.py) through the sandbox's
    observer hook: syncd's own HTTP session (its User-Agent), a body the sandbox refuses,
    and an answer the sandbox is made to spoil. The test takes the problems it provoked."""
    take_problems()
    session = build_session(Path(sandbox.ca_file))
    headers = _graph_session(sandbox, session)
    mailbox = next(u for u in sandbox.tenant(sandbox.tenants[0].name).users if u.has_mailbox).email
    url = f"{sandbox.graph_url}/users/{mailbox}/events"
    refused = session.post(url, json=event_body(subjet="typo"), headers=headers)
    assert refused.status_code == 400
    assert take_problems() == [
        f"syncd sent POST /users/{mailbox}/events with event.subjet: no property 'subjet' on "
        "microsoft.graph.event"
    ]

    created = session.post(url, json=event_body(), headers=headers)
    assert created.status_code == 201 and take_problems() == []

    real_render = graph_handlers.render_event

    def spoiled(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**real_render(*args, **kwargs), "OnlineMeeting": None}

    monkeypatch.setattr(graph_handlers, "render_event", spoiled)
    assert session.get(f"{url}/{created.json()['id']}", headers=headers).status_code == 200
    (problem,) = take_problems()
    assert problem.startswith(f"the sandbox answered GET /users/{mailbox}/events/")
    assert "event.OnlineMeeting: no property 'OnlineMeeting' on microsoft.graph.event" in problem
    monkeypatch.undo()
    session.close()


INNER = """
from syncd.sandbox.stats import report_exchange

EVENT = "/users/megan@contoso.example/events/AAMk="


def test_answers_a_valid_event():
    report_exchange("GET", EVENT, {}, None, 200, {"id": "AAMk=", "subject": "x"}, inner=False)


def test_answers_a_broken_event():
    report_exchange("GET", EVENT, {}, None, 200, {"id": "AAMk=", "subjet": "x"}, inner=False)
"""


def test_a_test_that_lets_a_broken_body_pass_fails(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.graph_schema.plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout
    assert "FAILED test_inner.py::test_answers_a_broken_event" in run.stdout
    assert "no property 'subjet' on microsoft.graph.event" in run.stdout
