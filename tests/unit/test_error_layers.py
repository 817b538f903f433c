"""Each layer's errors have a class of their own under SyncdError, so a caller can
catch one layer (`except GraphError`) or every error syncd can explain (`except
SyncdError`); codes and messages are those the layer always gave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest

from syncd.auth.clients import ClientError, create_client
from syncd.auth.errors import AuthError, OAuthError
from syncd.config import ConfigError, load_config
from syncd.domain import ErrorCode, SyncdError
from syncd.graph.errors import GraphError, graph_error, transport_error
from syncd.ledger.db import StoreNotMigrated, ensure_migrated, make_engine
from syncd.ledger.errors import LedgerError
from syncd.ledger.meeting_locks import busy
from syncd.salesforce.errors import SalesforceError, WindowMissed, refused


def test_graph_answers_and_transport_failures_are_graph_errors() -> None:
    body = {"error": {"code": "ErrorItemNotFound", "message": "The item was not found."}}
    answer = graph_error(404, body, action="update event AAM=", mailbox="a@contoso.example")
    assert isinstance(answer, GraphError) and isinstance(answer, SyncdError)
    assert answer.code == ErrorCode.MEETING_NOT_FOUND
    assert "in mailbox a@contoso.example" in answer.message
    lost = transport_error(
        requests.ConnectionError("refused"),
        action="list events",
        mailbox=None,
        timeout=(5, 30),
        retry_after=None,
    )
    assert isinstance(lost, GraphError)
    assert lost.code == ErrorCode.UPSTREAM_UNAVAILABLE


def test_salesforce_refusals_are_salesforce_errors() -> None:
    content: Any = [{"errorCode": "MALFORMED_QUERY", "message": "unexpected token"}]
    library = SalesforceMalformedRequest("https://x/query", 400, "query", content)
    answer = refused(library, action="query Events", instance="https://org.example")
    assert isinstance(answer, SalesforceError) and isinstance(answer, SyncdError)
    assert "MALFORMED_QUERY: unexpected token" in answer.message
    assert issubclass(WindowMissed, SalesforceError)


def test_config_errors_are_syncd_errors_with_the_same_message(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(SyncdError) as caught:
        load_config(missing)
    assert isinstance(caught.value, ConfigError)
    assert str(caught.value) == caught.value.message == f"configuration file not found: {missing}"


def test_ledger_errors_are_syncd_errors(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        with pytest.raises(LedgerError) as caught:
            ensure_migrated(engine)
    finally:
        engine.dispose()
    assert isinstance(caught.value, StoreNotMigrated)
    assert isinstance(caught.value, RuntimeError)  # what it was before: callers still catch it
    assert "run `syncd db upgrade` first" in caught.value.message
    held = busy(("demo", "api", "meeting-1"), 10)
    assert isinstance(held, LedgerError) and held.code == ErrorCode.UPSTREAM_UNAVAILABLE


def test_auth_errors_share_one_class(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        with pytest.raises(AuthError) as caught:
            create_client(engine, tenant="demo", method="basic", master_key=b"k" * 32)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    assert isinstance(caught.value, ClientError) and isinstance(caught.value, ValueError)
    assert caught.value.message == "unknown method 'basic': use 'oauth' or 'hmac'"
    token = OAuthError("invalid_client", "unknown client", status=401)
    assert isinstance(token, AuthError)
    assert (token.error, token.status, str(token)) == (
        "invalid_client",
        401,
        "invalid_client: unknown client",
    )
