"""MsalTokenProvider against a scripted identity endpoint over TLS, and build_session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import certifi
import pytest
import requests
import trustme

from syncd.config import MicrosoftConfig, SecretRef
from syncd.domain import ErrorCode, SyncdError
from syncd.graph import MsalTokenProvider, build_session, token_provider_from_config

from .conftest import RecordingSleep, Reply, ScriptedServer, Seen

TENANT = "8f2b6c1e-0d4a-4e7b-9c3f-5a1d2e3f4b6c"
CLIENT_ID = "3c9e1f0a-7b2d-4c6e-8a5f-1e2d3c4b5a69"
SECRET = "s3cr3t-Value~With.Odd_Chars"
Serve = Callable[..., ScriptedServer]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


class IdentityScript:
    """Answers openid-configuration and the token endpoint; either can be told to fail."""

    def __init__(self) -> None:
        self.origin = ""
        self.discovery_failures: list[int] = []
        self.token_error: tuple[int, dict[str, str]] | None = None
        self.issued = 0

    def __call__(self, seen: Seen) -> Reply:
        base = f"{self.origin}/{TENANT}"
        if seen.path.endswith("/.well-known/openid-configuration"):
            if self.discovery_failures:
                return Reply(self.discovery_failures.pop(0), {"error": "unavailable"})
            return Reply(
                200,
                {
                    "issuer": f"{base}/v2.0",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                },
            )
        if seen.path.endswith("/oauth2/v2.0/token"):
            if self.token_error:
                return Reply(*self.token_error)
            self.issued += 1
            return Reply(
                200,
                {"token_type": "Bearer", "expires_in": 3600, "access_token": f"at-{self.issued}"},
            )
        return Reply(404, {"error": "not_found"})


@pytest.fixture
def identity(serve: Serve, ca: trustme.CA) -> tuple[IdentityScript, ScriptedServer]:
    script = IdentityScript()
    server = serve(script, tls=ca)
    script.origin = server.origin
    return script, server


def provider(server: ScriptedServer, ca_file: Path, sleep: RecordingSleep) -> MsalTokenProvider:
    return MsalTokenProvider(
        authority=f"{server.origin}/{TENANT}",
        client_id=CLIENT_ID,
        credential=SECRET,
        session=build_session(ca_file),
        scopes=[f"{server.origin}/.default"],
        is_microsoft_cloud=False,
        sleep=sleep,
    )


def test_tokens_come_from_msal_cache_until_forced(
    identity: tuple[IdentityScript, ScriptedServer], ca_file: Path
) -> None:
    _, server = identity
    tokens = provider(server, ca_file, RecordingSleep())

    assert tokens.token() == "at-1"
    assert tokens.token() == "at-1"  # cache: no second request
    assert tokens.token(force_refresh=True) == "at-2"
    assert tokens.token(force_refresh=True) == "at-2"  # many 401s at once: one refresh
    posts = [s for s in server.seen if s.method == "POST"]
    assert len(posts) == 2
    form = parse_qs(posts[0].body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == [f"{server.origin}/.default"]


def test_refused_token_names_tenant_and_client_but_not_the_secret(
    identity: tuple[IdentityScript, ScriptedServer], ca_file: Path
) -> None:
    script, server = identity
    script.token_error = (
        401,
        {
            "error": "invalid_client",
            "error_description": f"AADSTS7000215: Invalid client secret provided ({SECRET}).",
        },
    )
    tokens = provider(server, ca_file, RecordingSleep())

    with pytest.raises(SyncdError) as caught:
        tokens.token()
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert TENANT in caught.value.message and CLIENT_ID in caught.value.message
    assert "AADSTS7000215" in caught.value.message
    assert SECRET not in caught.value.message


def test_identity_platform_hiccup_at_start_is_retried(
    identity: tuple[IdentityScript, ScriptedServer], ca_file: Path
) -> None:
    script, server = identity
    script.discovery_failures = [503, 503]
    sleep = RecordingSleep()

    assert provider(server, ca_file, sleep).token() == "at-1"
    assert sleep.waits == [1.0, 2.0]


def test_identity_platform_down_is_upstream_unavailable(
    identity: tuple[IdentityScript, ScriptedServer], ca_file: Path
) -> None:
    script, server = identity
    script.discovery_failures = [503] * 5
    tokens = provider(server, ca_file, RecordingSleep())

    with pytest.raises(SyncdError) as caught:
        tokens.token()
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    script.discovery_failures = []
    assert tokens.token() == "at-1"  # a later call builds the app afresh


def test_unknown_tenant_is_access_denied_at_once(
    identity: tuple[IdentityScript, ScriptedServer], ca_file: Path
) -> None:
    script, server = identity
    script.discovery_failures = [400]
    sleep = RecordingSleep()

    with pytest.raises(SyncdError) as caught:
        provider(server, ca_file, sleep).token()
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert sleep.waits == []


def test_provider_from_config_reads_the_secret_reference(
    identity: tuple[IdentityScript, ScriptedServer], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server = identity
    monkeypatch.setenv("SYNCD_TEST_GRAPH_SECRET", SECRET)
    config = MicrosoftConfig(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=SecretRef(env="SYNCD_TEST_GRAPH_SECRET"),
        authority_host=server.origin,
        graph_url=server.graph_url,
    )

    tokens = token_provider_from_config(config, build_session(ca_file))

    assert tokens.token() == "at-1"
    assert parse_qs(server.seen[-1].body)["client_secret"] == [SECRET]


def test_provider_from_config_without_the_secret_is_access_denied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYNCD_TEST_GRAPH_SECRET", raising=False)
    config = MicrosoftConfig(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=SecretRef(env="SYNCD_TEST_GRAPH_SECRET"),
    )
    with pytest.raises(SyncdError) as caught:
        token_provider_from_config(config, build_session(None))
    assert caught.value.code is ErrorCode.ACCESS_DENIED
    assert "SYNCD_TEST_GRAPH_SECRET" in caught.value.message


def test_session_trusts_its_ca_file_whatever_the_environment_says(
    serve: Serve, ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(lambda seen: Reply(200, {"ok": True}), tls=ca)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(Path(certifi.where())))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")

    session = build_session(ca_file)

    assert session.get(server.origin + "/ping", timeout=5).json() == {"ok": True}
    assert session.trust_env is False
    assert session.headers["User-Agent"].startswith("syncd/")
    # The pool covers the poll's executor and availability's getSchedule groups side by side.
    maxsize = session.get_adapter("https://x").poolmanager.connection_pool_kw["maxsize"]
    assert maxsize == 64
    with pytest.raises(requests.exceptions.SSLError):
        build_session(None).get(server.origin + "/ping", timeout=5)
