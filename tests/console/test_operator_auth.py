"""The operator credential over real HTTP: who opens /status and /metrics, who does not,
the login session, CSRF, and no secret in a page or a log line.

The app runs on a fake scheduler (tests/api/fakes.py): these tests are about the
web layer's auth, and the Scheduler API's own auth (the real Authenticator over the
real ledger) is what refuses the operator token there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from syncd.api import create_app
from syncd.auth import create_client
from syncd.config import ConfigError, OperatorConfig, SecretRef, Settings
from syncd.console.auth import COOKIE
from syncd.ledger import tenant_state as ts
from syncd.ledger.models import MeetingHistory, MeetingRecord
from tests.api.fakes import (
    FakeRuntime,
    MutableClock,
    fake_runtime,
    migrate_template,
    migrated_copy,
    serve,
)
from tests.security.test_credentials_required import _walk

TOKEN_ENV = "SYNCD_TEST_OPERATOR_TOKEN"
TOKEN = "op-" + "k" * 29 + "-7f3a9c"


def with_operator(runtime: FakeRuntime, settings: Settings) -> FakeRuntime:
    return replace(runtime, config=runtime.config.model_copy(update={"settings": settings}))


@pytest.fixture(scope="module")
def ledger_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate_template(tmp_path_factory.mktemp("ledger") / "template.db")


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def runtime(
    ledger_template: Path, tmp_path: Path, clock: MutableClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeRuntime]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    engine = migrated_copy(ledger_template, tmp_path / "ledger.db")
    settings = Settings(operator=OperatorConfig(token=SecretRef(env=TOKEN_ENV), session_hours=1))
    yield with_operator(fake_runtime(engine, clock=clock), settings)
    engine.dispose()


@pytest.fixture
def url(runtime: FakeRuntime) -> Iterator[str]:
    with serve(create_app(runtime)) as served:
        yield served


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10, follow_redirects=False) as client:
        yield client


def api_client_token(runtime: FakeRuntime, http: httpx.Client) -> str:
    """A real access token of an API client of tenant demo (OAuth client credentials)."""
    created = create_client(runtime.engine, tenant="demo", method="oauth", master_key=b"")
    answer = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def log_in(http: httpx.Client) -> str:
    """Log in through the form; returns the page's CSRF token."""
    answer = http.post("/status/login", data={"token": TOKEN})
    assert answer.status_code == 303 and answer.headers["location"] == "/status"
    page = http.get("/status")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_without_an_operator_credential_status_and_metrics_answer_403_saying_how(
    ledger_template: Path, tmp_path: Path
) -> None:
    engine = migrated_copy(ledger_template, tmp_path / "off.db")
    try:
        with serve(create_app(fake_runtime(engine))) as url, httpx.Client(base_url=url) as http:
            for path in ("/status", "/status/login", "/metrics"):
                answer = http.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
                assert answer.status_code == 403, path
                assert "[operator] token" in answer.text and "restart" in answer.text
            assert http.post("/status/demo/pause").status_code == 403
    finally:
        engine.dispose()


def test_a_short_operator_token_stops_the_app_from_starting(
    runtime: FakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "too-short")
    with pytest.raises(ConfigError, match="shorter than 32 characters"):
        create_app(runtime)


def test_an_api_client_credential_does_not_open_status_or_metrics(
    runtime: FakeRuntime, http: httpx.Client
) -> None:
    access = api_client_token(runtime, http)
    for path in ("/status", "/metrics", "/status/demo/records/salesforce/x"):
        answer = http.get(path, headers={"Authorization": f"Bearer {access}"})
        assert answer.status_code == 401, path
        assert "not the operator token" in answer.text
    answer = http.post(
        "/status/demo/pause", headers={"Authorization": f"Bearer {access}"}, data={"csrf": ""}
    )
    assert answer.status_code == 401
    assert ts.is_paused(runtime.engine, "demo") is None


def test_the_operator_token_opens_status_and_metrics_but_not_the_scheduler_api(
    http: httpx.Client,
) -> None:
    operator = {"Authorization": f"Bearer {TOKEN}"}
    page = http.get("/status", headers=operator)
    assert page.status_code == 200 and "Tenant demo" in page.text
    metrics = http.get("/metrics", headers=operator)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in metrics.text  # prometheus_client's exposition format

    meeting = http.get("/api/salesforce/scheduler/meeting?id=a1", headers=operator)
    assert meeting.status_code == 401
    assert meeting.json()["errorCode"] == "Unauthorized"


def test_without_credentials_pages_go_to_the_login_form_and_the_rest_is_401(
    http: httpx.Client,
) -> None:
    answer = http.get("/status")
    assert answer.status_code == 303 and answer.headers["location"] == "/status/login"
    assert http.get("/metrics").status_code == 401
    assert http.post("/status/demo/resume").status_code == 401
    form = http.get("/status/login")
    assert form.status_code == 200 and 'type="password"' in form.text


def test_login_sets_a_signed_httponly_samesite_strict_cookie(http: httpx.Client) -> None:
    wrong = http.post("/status/login", data={"token": TOKEN[:-1] + "x"})
    assert wrong.status_code == 401 and "not the operator token" in wrong.text
    assert COOKIE not in wrong.cookies

    answer = http.post("/status/login", data={"token": TOKEN})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie
    assert http.get("/status").status_code == 200

    # A cookie changed by one character is not ours.
    value = http.cookies[COOKIE]
    http.cookies.set(COOKIE, value[:-1] + ("A" if value[-1] != "A" else "B"))
    assert http.get("/status").status_code == 303


def test_a_session_ends_after_its_hours(http: httpx.Client, clock: MutableClock) -> None:
    log_in(http)
    clock.advance(3599)
    assert http.get("/status").status_code == 200
    clock.advance(2)
    answer = http.get("/status")
    assert answer.status_code == 303 and answer.headers["location"] == "/status/login"


def test_a_form_without_the_sessions_csrf_token_is_refused(
    runtime: FakeRuntime, http: httpx.Client, url: str
) -> None:
    csrf = log_in(http)
    refused = http.post("/status/demo/pause", data={"reason": "forged"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert http.post("/status/demo/pause", data={"csrf": "x" * len(csrf)}).status_code == 403
    assert ts.is_paused(runtime.engine, "demo") is None

    # Another session's token does not fit this session.
    with httpx.Client(base_url=url) as other:
        other_csrf = log_in(other)
    assert other_csrf != csrf
    assert http.post("/status/demo/pause", data={"csrf": other_csrf}).status_code == 403

    done = http.post("/status/demo/pause", data={"csrf": csrf, "reason": "mailbox migration"})
    assert done.status_code == 303
    paused = ts.is_paused(runtime.engine, "demo")
    assert paused is not None and paused.reason == "mailbox migration"
    assert paused.by is not None and "status page" in paused.by
    page = http.get("/status").text
    assert 'id="health-demo">paused' in page and "mailbox migration" in page

    assert http.post("/status/demo/resume", data={"csrf": csrf}).status_code == 303
    assert ts.is_paused(runtime.engine, "demo") is None


def test_a_script_with_the_bearer_token_needs_no_csrf_token(
    runtime: FakeRuntime, http: httpx.Client
) -> None:
    operator = {"Authorization": f"Bearer {TOKEN}"}
    assert http.post("/status/demo/pause", headers=operator).status_code == 303
    assert ts.is_paused(runtime.engine, "demo") is not None
    assert http.post("/status/nobody/pause", headers=operator).status_code == 404


def test_no_secret_in_a_page_or_a_log_line(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="syncd")
    caplog.set_level(logging.INFO, logger="uvicorn")
    http.post("/status/login", data={"token": "wrong-" + TOKEN})
    csrf = log_in(http)
    cookie = http.cookies[COOKIE]
    pages = [
        http.get("/status").text,
        http.get("/status/login").text,
        http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text,
        http.post("/status/demo/pause", data={"csrf": csrf}, follow_redirects=True).text,
    ]
    # The server's log (the test's own HTTP client logs the headers it receives).
    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    )
    assert "operator login refused" in logged  # the log was captured
    for text in [*pages, logged]:
        assert TOKEN not in text
        assert cookie not in text


def test_a_failed_doctor_run_shows_the_tenant_broken_with_its_reason(
    runtime: FakeRuntime, http: httpx.Client
) -> None:
    operator = {"Authorization": f"Bearer {TOKEN}"}
    report = {
        "ok": False,
        "checks": [
            {"name": "graph-token", "ok": True, "message": "token issued"},
            {"name": "salesforce-login", "ok": False, "message": "invalid_client_id"},
        ],
    }
    ts.record_doctor(runtime.engine, "demo", now=runtime.clock(), ok=False, report=report)
    page = http.get("/status", headers=operator).text
    assert 'id="health-demo">broken' in page
    assert "salesforce-login: invalid_client_id" in page

    ts.record_doctor(runtime.engine, "demo", now=runtime.clock(), ok=True, report={"ok": True})
    page = http.get("/status", headers=operator).text
    assert 'id="health-demo">ok' in page and "the last doctor run passed" in page


def test_a_records_page_shows_its_ledger_row_and_history(
    runtime: FakeRuntime, http: httpx.Client
) -> None:
    now = runtime.clock()
    with Session(runtime.engine) as session:
        session.add(
            MeetingRecord(
                tenant="demo",
                source="salesforce",
                external_id="00U5g00000AbCdE",
                organizer_email="amy@contoso.example",
                transaction_id="t1",
                status="failed",
                last_error_code="OrganizerNotFound",
                last_error_message="amy@contoso.example has no mailbox",
                attempts=2,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        session.commit()
    # One entry as the ledger repository appends it (migration 0002 made the table).
    with Session(runtime.engine) as session:
        session.add(
            MeetingHistory(
                tenant="demo",
                source="salesforce",
                external_id="00U5g00000AbCdE",
                at=now,
                side="outlook",
                action="created",
                fields={"subject": [None, "Pipeline <review>"]},
                reason="no mailbox",
                graph_request_id="req-77",
            )
        )
        session.commit()
    page = http.get(
        "/status/demo/records/salesforce/00U5g00000AbCdE",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert page.status_code == 200
    assert 'id="record-status">failed' in page.text
    assert "OrganizerNotFound: amy@contoso.example has no mailbox" in page.text
    assert 'id="history"' in page.text and "req-77" in page.text
    assert "Pipeline &lt;review&gt;" in page.text  # escaped, never markup
    missing = http.get(
        "/status/demo/records/salesforce/nope", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert missing.status_code == 404 and "has no salesforce record nope" in missing.text


def test_repeated_wrong_tokens_slow_the_source_down(http: httpx.Client) -> None:
    for _ in range(5):
        assert http.post("/status/login", data={"token": "wrong"}).status_code == 401
    refused = http.post("/status/login", data={"token": TOKEN})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    bearer = http.get("/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 429


def operator_routes(runtime: FakeRuntime) -> list[tuple[str, str]]:
    """Every route under /status and /metrics, read off the app (a route added later
    without the operator check fails the test below)."""
    app = create_app(runtime)
    found = [
        (method, path)
        for method, path in _walk(list(app.routes))
        if path.startswith(("/status", "/metrics")) and method != "HEAD"
    ]
    return sorted(found)


def test_every_operator_route_needs_the_operator_credential(
    runtime: FakeRuntime, http: httpx.Client, clock: MutableClock
) -> None:
    routes = operator_routes(runtime)
    assert len(routes) == 9
    access = api_client_token(runtime, http)
    for method, path in routes:
        if path == "/status/login":
            continue  # the form that takes the token
        url = path.format(tenant="demo", source="salesforce", external_id="x")
        answer = http.request(method, url, headers={"Authorization": f"Bearer {access}"})
        assert answer.status_code == 401, f"{method} {path}"
        # Without any credential: browsers go to the login form, the rest is 401.
        bare = http.request(method, url)
        expected = 303 if method == "GET" and path.startswith("/status") else 401
        assert bare.status_code == expected, f"{method} {path}"
        assert ts.is_paused(runtime.engine, "demo") is None
        clock.advance(301)  # wrong tokens are slowed down per address: keep them apart
