"""Fixtures of the API tests: a fake-scheduler app served over real HTTP, for wire shapes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.api import create_app
from syncd.auth import create_client
from syncd.logs import ContextFilter

from .fakes import FakeRuntime, fake_runtime, migrate_template, migrated_copy, serve


@pytest.fixture(scope="session")
def ledger_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate_template(tmp_path_factory.mktemp("ledger") / "template.db")


@pytest.fixture
def fake(ledger_template: Path, tmp_path: Path) -> Iterator[FakeRuntime]:
    engine = migrated_copy(ledger_template, tmp_path / "ledger.db")
    yield fake_runtime(engine)
    engine.dispose()


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog whose records carry tenant and correlation id, as configure_logging's do."""
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO)
    return caplog


@pytest.fixture
def fake_url(fake: FakeRuntime) -> Iterator[str]:
    with serve(create_app(fake)) as url:
        yield url


@pytest.fixture
def client(fake: FakeRuntime, fake_url: str) -> Iterator[httpx.Client]:
    """An HTTP client of the fake app, already holding a bearer token of tenant "demo"."""
    created = create_client(fake.engine, tenant="demo", method="oauth", master_key=b"")
    with httpx.Client(base_url=fake_url, timeout=10) as http:
        answer = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
        assert answer.status_code == 200, answer.text
        http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield http
