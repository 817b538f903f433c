"""Configuration loading: valid files load, invalid ones name file, key and problem."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.config import ConfigError, SecretRef, load_config
from syncd.runtime import salesforce_client_for
from syncd.sandbox.server import SandboxTenantSpec, start_sandbox, write_connection_file

REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, tenant_toml: str, daemon_toml: str = "") -> Path:
    (tmp_path / "tenants").mkdir(parents=True)
    (tmp_path / "tenants" / "t1.toml").write_text(tenant_toml)
    path = tmp_path / "syncd.toml"
    path.write_text(daemon_toml or 'tenants_dir = "tenants"\nstate_dir = "state"\n')
    return path


def test_shipped_config_loads_with_a_sandbox_demo_tenant() -> None:
    config = load_config(REPO / "config" / "syncd.toml")
    assert config.tenants["demo"].provider == "sandbox"
    assert config.database_url.startswith("sqlite:///")


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'provider = "sandbox"\nmail_domains = ["a.example"]\nmial = 1\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "t1.toml" in str(error.value)
    assert "key 'mial'" in str(error.value)


def test_real_tenant_needs_microsoft_table(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'provider = "microsoft"\nmail_domains = ["a.example"]\n')
    with pytest.raises(ConfigError, match=r"needs a \[microsoft\] table"):
        load_config(path)


def test_secret_must_not_be_inline(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        'provider = "microsoft"\nmail_domains = ["a.example"]\n'
        '[microsoft]\ntenant_id = "t"\nclient_id = "c"\nclient_secret = "hunter2"\n',
    )
    with pytest.raises(ConfigError, match=r"key 'microsoft.client_secret'"):
        load_config(path)


def test_secret_ref_reads_env_file_and_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TEST_SECRET", "from-env")
    assert SecretRef(env="SYNCD_TEST_SECRET").read() == "from-env"
    (tmp_path / "s").write_text("from-file\n")
    assert SecretRef(file=tmp_path / "s").read() == "from-file"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert SecretRef(credential="s").read() == "from-file"
    with pytest.raises(ConfigError, match="SYNCD_MISSING"):
        SecretRef(env="SYNCD_MISSING").read()


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, 'provider = "sandbox"\nmail_domains = ["a.example"]\n')
    monkeypatch.setenv("SYNCD_API__PORT", "9123")
    assert load_config(path).settings.api.port == 9123


def test_the_sandbox_start_needs_its_utc_offset(tmp_path: Path) -> None:
    # A start without an offset would fall on a different instant on each machine.
    daemon = 'tenants_dir = "tenants"\nstate_dir = "state"\n[sandbox]\nstart = %s\n'
    tenant = 'provider = "sandbox"\nmail_domains = ["a.example"]\n'
    aware = load_config(write_config(tmp_path / "a", tenant, daemon % "2027-05-19T09:30:00Z"))
    assert aware.settings.sandbox.start == datetime(2027, 5, 19, 9, 30, tzinfo=UTC)
    with pytest.raises(ConfigError, match=r"key 'sandbox.start'"):
        load_config(write_config(tmp_path / "b", tenant, daemon % "2027-05-19T09:30:00"))


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    path = write_config(tmp_path, "provider = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(path)


def test_the_production_sample_is_a_valid_real_tenant(tmp_path: Path) -> None:
    sample = (REPO / "config" / "tenants" / "example-production.toml.sample").read_text()
    tenant = load_config(write_config(tmp_path, sample)).tenants["acme"]
    assert tenant.provider == "microsoft"
    login = tenant.salesforce.login
    assert login is not None and login.flow == "jwt_bearer"
    assert login.private_key is not None and login.private_key.credential == "acme-salesforce-key"
    assert tenant.salesforce.fields.event.outlook_event_id == "Outlook_Event_Id__c"


def test_a_real_tenant_without_salesforce_login_is_refused(tmp_path: Path) -> None:
    sample = (REPO / "config" / "tenants" / "example-production.toml.sample").read_text()
    without_login = sample.split("[salesforce.login]")[0]
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, without_login))
    assert "[salesforce.login]" in str(error.value)


# ------------------------------------------- [salesforce] org: where the org is

_REAL_MICROSOFT = (
    'provider = "microsoft"\nmail_domains = ["contoso.example"]\n\n'
    '[microsoft]\ntenant_id = "00000000-0000-0000-0000-000000000001"\n'
    'client_id = "00000000-0000-0000-0000-000000000002"\n'
    'client_secret = { env = "UNUSED_GRAPH_SECRET" }\n\n'
)


def test_the_salesforce_org_follows_the_provider_unless_salesforce_says(tmp_path: Path) -> None:
    sandbox = load_config(
        write_config(tmp_path / "a", 'provider = "sandbox"\nmail_domains = ["a.example"]\n')
    )
    assert sandbox.tenants["t1"].salesforce_org == "sandbox"
    sample = (REPO / "config" / "tenants" / "example-production.toml.sample").read_text()
    real = load_config(write_config(tmp_path / "b", sample)).tenants["acme"]
    assert real.salesforce_org == "login"
    # The built-in Microsoft 365 beside a real org: the org is the [salesforce] table's.
    mixed = (
        'provider = "sandbox"\nmail_domains = ["a.example"]\n\n[salesforce]\norg = "login"\n\n'
        '[salesforce.login]\nflow = "client_credentials"\nclient_id = "c"\n'
        'client_secret = { env = "UNUSED_SF_SECRET" }\n'
    )
    assert load_config(write_config(tmp_path / "c", mixed)).tenants["t1"].salesforce_org == "login"


def test_a_salesforce_org_setting_that_cannot_work_is_refused_by_key(tmp_path: Path) -> None:
    no_login = 'provider = "sandbox"\nmail_domains = ["a.example"]\n\n[salesforce]\norg = "login"\n'
    with pytest.raises(ConfigError, match=r"salesforce.org = 'login' needs a \[salesforce.login\]"):
        load_config(write_config(tmp_path / "a", no_login))
    no_sandbox = _REAL_MICROSOFT + '[salesforce]\norg = "sandbox"\n'
    with pytest.raises(ConfigError, match=r"needs \[sandbox\] connection_file"):
        load_config(write_config(tmp_path / "b", no_sandbox))


def test_a_microsoft_tenant_reaches_the_sandbox_org_its_salesforce_table_names(
    tmp_path: Path,
) -> None:
    spec = SandboxTenantSpec("t1", "contoso.example", users=5, seed=3, salesforce_events=4)
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=[spec]) as running:
        connection = write_connection_file(running)
        tenant_toml = (
            _REAL_MICROSOFT
            + f'[salesforce]\norg = "sandbox"\n\n[sandbox]\nconnection_file = "{connection}"\n'
        )
        tenant = load_config(write_config(tmp_path / "config", tenant_toml)).tenants["t1"]
        assert tenant.provider == "microsoft" and tenant.salesforce.login is None
        client = salesforce_client_for(tenant)
        try:
            events = list(client.query("SELECT Id FROM Event WHERE IsChild = false"))
        finally:
            client.close()
    assert len(events) == 4
