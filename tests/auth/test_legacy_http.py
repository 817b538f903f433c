"""Legacy login/password (HTTP Basic): off by default, on per tenant, refused when ambiguous."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from syncd.api import create_app
from syncd.config import ConfigError
from syncd.ledger.db import make_engine
from tests.api.fakes import fake_runtime, tenant

from .conftest import AVAILABILITY, WINDOW, Served

BODY = b'[{"email": "jane@contoso.example"}]'


def legacy_tenant(name: str, domain: str, username: str = "admin") -> object:
    return tenant(
        name,
        domain,
        legacy_login={"enabled": True, "username": username, "password": {"env": "TEST_LEGACY_PW"}},
    )


def call(served: Served, user: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{served.url}{AVAILABILITY}?{WINDOW}", content=BODY, auth=(user, password), timeout=10
    )


def test_legacy_login_is_off_unless_configured(served: Served) -> None:
    answer = call(served, "admin", "anything")
    assert answer.status_code == 401
    assert "disabled for this deployment" in answer.json()["errorMessage"]
    assert "Basic" not in answer.headers["WWW-Authenticate"]


def test_legacy_login_for_the_tenant_that_enables_it(
    serve_tenants: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_LEGACY_PW", "correct horse")
    served = serve_tenants(tenant("demo", "contoso.example"), legacy_tenant("acme", "acme.example"))
    answer = call(served, "admin", "correct horse")
    assert answer.status_code == 200, answer.text
    assert served.runtime.schedulers["acme"].calls, "the request ran in the login's tenant"
    assert not served.runtime.schedulers["demo"].calls
    wrong = call(served, "admin", "battery staple")
    assert wrong.status_code == 401
    assert wrong.json()["errorMessage"] == "wrong login or password"
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="syncd"'
    assert call(served, "root", "correct horse").status_code == 401
    for _ in range(4):  # with the wrong password above: 5 failures of admin from here
        call(served, "admin", "guess")
    assert call(served, "admin", "correct horse").status_code == 429


def test_two_tenants_with_one_legacy_username_are_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_LEGACY_PW", "pw")
    runtime = fake_runtime(
        make_engine(f"sqlite:///{tmp_path}/l.db"),
        legacy_tenant("a", "a.example"),
        legacy_tenant("b", "b.example"),
    )
    with pytest.raises(ConfigError, match="both enable legacy login with username 'admin'"):
        create_app(runtime)


def test_a_missing_legacy_password_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_LEGACY_PW", raising=False)
    runtime = fake_runtime(
        make_engine(f"sqlite:///{tmp_path}/l.db"), legacy_tenant("a", "a.example")
    )
    with pytest.raises(ConfigError, match="TEST_LEGACY_PW"):
        create_app(runtime)
