"""Helpers for the Salesforce sandbox tests: a TLS server whose app can be swapped, keys, JWTs."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from syncd.sandbox.tls import make_tls
from syncd.sockets import bind_tcp

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]
# The instant the tests' sandbox clock is frozen at.
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Switch:
    """An ASGI app forwarding to whichever app a test installs (one server, fresh state)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "no app installed"
        await self.app(scope, receive, send)


class TlsServer:
    """uvicorn on 127.0.0.1 with a trustme certificate from syncd.sandbox.tls, in a thread."""

    def __init__(self, state_dir: Path) -> None:
        self.tls = make_tls(state_dir)
        self.switch = Switch()
        sock = bind_tcp("127.0.0.1", 0)  # TCP_NODELAY on each connection
        self.port = sock.getsockname()[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.switch,
            ssl_certfile=str(self.tls.cert_file),
            ssl_keyfile=str(self.tls.key_file),
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the TLS test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(0.5)
        if self.thread.is_alive():
            # Idle keep-alive connections would hold a graceful shutdown; nothing to flush.
            self.server.force_exit = True
            self.thread.join(5)


def make_session(ca_file: Path) -> requests.Session:
    """Trusts the sandbox CA; trust_env off, or REQUESTS_CA_BUNDLE would win."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    return session


def rsa_key_and_certificate(common_name: str = "syncd jwt") -> tuple[bytes, bytes]:
    """A private key (PEM) and a self-signed certificate (PEM), as for a connected app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def jwt_assertion(
    key_pem: bytes, *, client_id: str, username: str, audience: str, lifetime: int = 180
) -> str:
    """An RS256 assertion as the JWT bearer flow wants it (exp as simple-salesforce sends it)."""
    expiry = datetime.now(UTC) + timedelta(seconds=lifetime)
    claims = {
        "iss": client_id,
        "sub": username,
        "aud": audience,
        "exp": f"{expiry.timestamp():.0f}",
    }
    return jwt.encode(claims, key_pem, algorithm="RS256")
