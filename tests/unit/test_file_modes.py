"""Files syncd keeps: the state directory 0700 and the SQLite files 0600 whatever the umask;
secret files that others can read are named in a warning; credentials stay in their directory;
relative paths in a tenant file are relative to that file.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from syncd.config import ConfigError, SecretRef, load_config
from syncd.ledger.db import make_engine, upgrade
from syncd.runtime import load_master_key
from tests import store_routing as store_testing


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def sqlite_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about files: the PostgreSQL run of the suite keeps SQLite here."""
    monkeypatch.delenv(store_testing.MODE_ENV, raising=False)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def write_config(root: Path, tenant: str = "") -> Path:
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    (root / "tenants" / "demo.toml").write_text(
        'name = "demo"\nprovider = "sandbox"\nmail_domains = ["contoso.example"]\n' + tenant
    )
    (root / "syncd.toml").write_text('tenants_dir = "tenants"\nstate_dir = "state"\n')
    return root / "syncd.toml"


@pytest.mark.usefixtures("sqlite_files")
def test_the_state_directory_and_the_sqlite_files_are_private(tmp_path: Path, umask: int) -> None:
    config = load_config(write_config(tmp_path))
    upgrade(config.database_url)
    engine = make_engine(config.database_url)
    try:
        with engine.begin() as connection:  # a write: SQLite now has its -wal and -shm
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
        state = config.settings.state_dir
        files = {p.name: mode(p) for p in state.iterdir() if p.name.startswith("syncd.db")}
        assert set(files) == {"syncd.db", "syncd.db-wal", "syncd.db-shm"}
        assert files == dict.fromkeys(files, 0o600), files
        assert mode(state) == 0o700
        load_master_key(config)
        assert mode(state / "master.key") == 0o600
    finally:
        engine.dispose()


@pytest.mark.usefixtures("sqlite_files")
def test_a_state_directory_made_for_the_master_key_is_private(tmp_path: Path, umask: int) -> None:
    config = load_config(write_config(tmp_path))
    load_master_key(config)  # on PostgreSQL, nothing else makes the state directory
    assert mode(config.settings.state_dir) == 0o700


@pytest.mark.usefixtures("sqlite_files")
def test_sqlite_files_left_open_by_an_older_syncd_are_closed(tmp_path: Path) -> None:
    database = tmp_path / "ledger.db"
    upgrade(f"sqlite:///{database}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").touch()
        os.chmod(f"{database}{suffix}", 0o644)
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert [mode(Path(f"{database}{s}")) for s in ("", "-wal", "-shm")] == [0o600] * 3
    finally:
        engine.dispose()


def test_a_secret_file_others_can_read_is_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared, private = tmp_path / "shared-secret", tmp_path / "private-secret"
    for path in (shared, private):
        path.write_text("s3cr3t-value\n")
    os.chmod(shared, 0o640)
    os.chmod(private, 0o600)
    with caplog.at_level(logging.WARNING, logger="syncd.config"):
        assert SecretRef(file=private).read() == "s3cr3t-value"
        assert not caplog.records
        assert SecretRef(file=shared).read() == "s3cr3t-value"
        SecretRef(file=shared).read()  # once per file, not per read
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert str(shared) in message and "0640" in message
    assert "s3cr3t" not in message


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "sub/x", "..", ""])
def test_a_credential_names_a_file_in_the_credentials_directory(tmp_path: Path, name: str) -> None:
    config = write_config(
        tmp_path,
        '[microsoft]\ntenant_id = "t"\nclient_id = "c"\n'
        f'client_secret = {{ credential = "{name}" }}\n',
    )
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert "microsoft.client_secret" in str(raised.value)


def test_a_credential_that_is_a_symlink_out_of_the_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    outside = tmp_path / "elsewhere"
    outside.write_text("not a credential")
    (credentials / "graph").symlink_to(outside)
    (credentials / "good").write_text("value")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert SecretRef(credential="good").read() == "value"
    with pytest.raises(ConfigError, match="outside \\$CREDENTIALS_DIRECTORY"):
        SecretRef(credential="graph").read()


def test_relative_paths_in_a_tenant_file_are_relative_to_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config(
        tmp_path / "etc",
        '[microsoft]\ntenant_id = "t"\nclient_id = "c"\n'
        'client_secret = { file = "secrets/graph" }\nca_file = "../ca.pem"\n'
        '[sandbox]\nconnection_file = "connection.json"\n',
    )
    secrets = tmp_path / "etc" / "tenants" / "secrets"
    secrets.mkdir()
    (secrets / "graph").write_text("graph-secret")
    os.chmod(secrets / "graph", 0o600)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    tenant = load_config(config_path).tenant("demo")
    assert tenant.microsoft is not None and tenant.microsoft.client_secret is not None
    assert tenant.microsoft.client_secret.read() == "graph-secret"
    assert tenant.microsoft.ca_file == tmp_path / "etc" / "ca.pem"
    assert tenant.sandbox.connection_file == tmp_path / "etc" / "tenants" / "connection.json"
