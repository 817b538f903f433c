"""Fixtures for the Salesforce adapter tests: a static login, a recording sleep, a fixed
clock and an RSA key for the JWT bearer flow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from syncd.salesforce import Login, SalesforceSession


class StaticLogin:
    """A Login handing out the given sessions in turn (the last one again when used up)."""

    def __init__(self, *sessions: SalesforceSession) -> None:
        self.sessions = list(sessions)
        self.calls = 0

    def login(self) -> SalesforceSession:
        self.calls += 1
        return self.sessions[min(self.calls, len(self.sessions)) - 1]


class ThenLogin:
    """A Login whose first session is `first` (an earlier login), then asks `then`."""

    def __init__(self, first: SalesforceSession, then: Login) -> None:
        self.first, self.then, self.calls = first, then, 0

    def login(self) -> SalesforceSession:
        self.calls += 1
        return self.first if self.calls == 1 else self.then.login()


class RecordingSleep:
    """Stands in for time.sleep: records each wait, waits for nothing (or calls `on_sleep`)."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None) -> None:
        self.waits: list[float] = []
        self.on_sleep = on_sleep

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)


def session_for(instance_url: str, token: str = "00Dxx0000001gPL!static") -> SalesforceSession:
    return SalesforceSession(instance_url, token, datetime(2013, 5, 10, tzinfo=UTC))


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
