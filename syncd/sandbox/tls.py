"""Local certificate authority and server certificate for the sandbox's HTTPS.

The CA is kept in the state directory and reused on the next start, so a client
configured once with `ca_file` keeps trusting the sandbox across restarts.
Clients hand `ca_file` to `requests.Session.verify` (with `trust_env = False`,
or `REQUESTS_CA_BUNDLE` in the environment overrides it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import trustme

SERVER_IDENTITIES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files the server and its clients need."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _load_or_create_ca(state_dir: Path) -> trustme.CA:
    ca_cert = state_dir / "ca.pem"
    ca_key = state_dir / "ca-key.pem"
    if ca_cert.is_file() and ca_key.is_file():
        return trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
    ca = trustme.CA(organization_name="syncd sandbox")
    ca.cert_pem.write_to_path(ca_cert)
    _write_private(ca_key, ca.private_key_pem.bytes())
    return ca


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def make_tls(state_dir: Path) -> TlsFiles:
    """Create (or reuse) the CA in `state_dir` and issue a fresh server certificate."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ca = _load_or_create_ca(state_dir)
    leaf = ca.issue_cert(*SERVER_IDENTITIES, common_name="syncd sandbox")
    cert_file = state_dir / "server.pem"
    key_file = state_dir / "server-key.pem"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    _write_private(key_file, leaf.private_key_pem.bytes())
    return TlsFiles(ca_file=state_dir / "ca.pem", cert_file=cert_file, key_file=key_file)
