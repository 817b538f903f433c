"""`syncd clients`: operator mistakes fail loudly instead of reporting success."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.cli import main


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "demo.toml").write_text(
        'name = "demo"\nprovider = "sandbox"\nmail_domains = ["contoso.example"]\n'
    )
    path = tmp_path / "syncd.toml"
    path.write_text('tenants_dir = "tenants"\nstate_dir = "state"\n')
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    return path


def run(capsys: pytest.CaptureFixture[str], config_path: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(config_path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_revoking_an_unknown_client_fails(
    capsys: pytest.CaptureFixture[str], config_path: Path
) -> None:
    code, out, err = run(capsys, config_path, "clients", "revoke", "oauth_nobody")
    assert code == 2
    assert "revoked" not in out
    assert "no API client 'oauth_nobody'" in err

    code, out, _err = run(capsys, config_path, "clients", "create", "--tenant", "demo", "--json")
    client_id = json.loads(out)["client_id"]
    code, out, _err = run(capsys, config_path, "clients", "revoke", client_id)
    assert (code, out.strip()) == (0, f"client {client_id} revoked")


def test_listing_an_unknown_tenant_fails_like_every_other_command(
    capsys: pytest.CaptureFixture[str], config_path: Path
) -> None:
    listed = run(capsys, config_path, "clients", "list", "--tenant", "nope")
    created = run(capsys, config_path, "clients", "create", "--tenant", "nope")
    status = run(capsys, config_path, "status", "--tenant", "nope")
    assert listed[0] == created[0] == status[0] == 2
    assert listed[1] == ""
    assert "unknown tenant 'nope' (configured: demo)" in listed[2]
    assert listed[2] == created[2]
    assert "nope" in status[2]
    code, out, _err = run(capsys, config_path, "clients", "list", "--tenant", "demo", "--json")
    assert (code, json.loads(out)) == (0, [])
