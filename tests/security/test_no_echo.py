"""A refused Authorization header is never echoed, not even in part, in the answer or the log.

Callers get the header wrong in ways that put a secret first: a bare token with
no scheme, a made-up scheme, a password pasted whole. Whatever the first word
is, none of the value comes back.
"""

from __future__ import annotations

import logging
import secrets

import httpx
import pytest

from .conftest import AVAILABILITY, WINDOW, Served

BODY = b'[{"email": "jane@contoso.example"}]'
#: The shortest fragment that must not show (log_scan.FRAGMENT).
SHORTEST = 8


def fragments(value: str) -> set[str]:
    return {value[i : i + SHORTEST] for i in range(len(value) - SHORTEST + 1)}


@pytest.mark.parametrize(
    "layout",
    ["{secret}", "Token {secret}", "{secret} trailing", "Bearer\t{secret}", "x{secret}"],
)
def test_an_unsupported_authorization_header_is_not_echoed(
    served: Served, caplog: pytest.LogCaptureFixture, layout: str
) -> None:
    secret = "sycs" + secrets.token_hex(12)
    header = layout.format(secret=secret)
    with caplog.at_level(logging.DEBUG, logger="syncd"):
        answer = httpx.post(
            f"{served.url}{AVAILABILITY}?{WINDOW}",
            content=BODY,
            headers={"Authorization": header},
            timeout=10,
        )
    assert answer.status_code == 401
    assert "unsupported Authorization scheme" in answer.json()["errorMessage"]
    shown = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "the refusal is logged"
    for fragment in fragments(secret):
        assert fragment not in shown, f"the answer echoes {fragment!r}"
        assert fragment not in logged, f"the log echoes {fragment!r}"
