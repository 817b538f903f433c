"""Small leaks: a Location built from the Host header, log fields forged by a correlation id."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from syncd import logs

from .conftest import MEETING, Served, bearer

FORGED = "x] WARNING syncd.api [tenant=acme cid=y"


@pytest.fixture
def syncd_lines() -> Iterator[list[str]]:
    """Every line the root logger writes, formatted exactly as `configure_logging` does."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logging.Formatter(logs.LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


def test_a_trailing_slash_is_not_redirected_to_a_host_the_caller_chose(served: Served) -> None:
    token = bearer(served)
    for method in ("GET", "POST"):
        answer = httpx.request(
            method,
            f"{served.url}{MEETING}/?id=m-1",
            headers={"Authorization": f"Bearer {token}", "Host": "evil.example"},
            follow_redirects=False,
            timeout=10,
        )
        assert "location" not in answer.headers
        assert answer.status_code == 404
        assert answer.json()["errorCode"] == "RouteNotFound"
        assert "evil.example" not in answer.text


@pytest.mark.parametrize("where", ["query", "body"])
def test_a_correlation_id_cannot_forge_log_fields(
    served: Served, syncd_lines: list[str], where: str
) -> None:
    token = bearer(served)
    headers = {"Authorization": f"Bearer {token}"}
    if where == "query":
        answer = httpx.get(
            f"{served.url}{MEETING}",
            params={
                "id": "m-1",
                "organizerEmail": "j@contoso.example",
                "salesforceCorrelationId": FORGED,
            },
            headers=headers,
            timeout=10,
        )
    else:
        answer = httpx.request(
            "DELETE",
            f"{served.url}{MEETING}",
            json={
                "id": "m-1",
                "organizerEmail": "j@contoso.example",
                "salesforceCorrelationId": FORGED,
            },
            headers=headers,
            timeout=10,
        )
    shown = logs.field_text(FORGED)
    assert answer.headers["X-Correlation-Id"] == shown, "the header matches the log field"
    mine = [line for line in syncd_lines if f"cid={shown}]" in line]
    assert mine, "the request's lines carry the id, encoded"
    for line in syncd_lines:
        assert line.count("[tenant=") == 1, line
        assert "WARNING syncd.api [tenant=acme" not in line, line


def test_a_path_cannot_start_a_new_log_line(served: Served, syncd_lines: list[str]) -> None:
    httpx.get(f"{served.url}/nowhere%0A2030-01-01 WARNING syncd.api [tenant=acme]", timeout=10)
    access = [line for line in syncd_lines if "/nowhere" in line]
    assert access and all("\n" not in line for line in access)
    assert all("%0A2030-01-01%20WARNING" in line for line in access)
