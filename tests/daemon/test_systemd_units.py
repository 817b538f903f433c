"""The systemd units in systemd/: systemd itself accepts them, and they keep the
promises the daemon and the README rely on (notify, watchdog, a writable state
directory under ProtectSystem=strict, credentials, the store migrated first)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from syncd.config import Settings
from syncd.ledger.db import normalize_url
from syncd.sync_commands import EXIT_RECORDS_FAILED, EXIT_SETUP
from tests.daemon.helpers import REPO, SYNCD

UNITS = REPO / "systemd"
SERVICES = ("syncd.service", "syncd-api.service", "syncd-reconcile.service")
#: The drop-in that points syncd.service and syncd-api.service at PostgreSQL.
POSTGRES_DROPIN = UNITS / "dropins" / "postgresql.conf"
INSTALLED_SYNCD = "/opt/syncd/.venv/bin/syncd"

Unit = dict[str, dict[str, list[str]]]


def parse_unit(path: Path) -> Unit:
    """Section -> key -> every value given, in order.

    Not configparser: systemd keys repeat (Environment=, LoadCredential=) and
    each occurrence counts, where configparser keeps only the last.
    """
    unit: Unit = {}
    section: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key, [])
    assert len(values) == 1, f"[{section}] {key}= should be given once, got {values}"
    return values[0]


def seconds(value: str) -> float:
    """A systemd time span of the simple kinds the units use: 120s, 5min, 30min, 2min."""
    for suffix, factor in (("min", 60), ("s", 1)):
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * factor
    return float(value)


def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    script = Path(SYNCD[0])
    if script.name != "syncd":
        pytest.skip("the syncd console script is not installed in this environment")
    # verify checks that ExecStart= binaries exist: point them at this checkout's.
    for unit in UNITS.iterdir():
        if unit.is_file():
            text = unit.read_text().replace(INSTALLED_SYNCD, str(script))
            (tmp_path / unit.name).write_text(text)
    names = sorted(p.name for p in tmp_path.iterdir())
    # The PostgreSQL drop-in where the README installs it (verify reads <unit>.d/).
    for name in ("syncd.service", "syncd-api.service"):
        (tmp_path / f"{name}.d").mkdir()
        shutil.copy(POSTGRES_DROPIN, tmp_path / f"{name}.d" / POSTGRES_DROPIN.name)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    # verify exits 0 on warnings (unknown keys, bad values): any line naming
    # one of our units is a finding.
    flagged = [*names, POSTGRES_DROPIN.name]
    findings = [line for line in output.splitlines() if any(n in line for n in flagged)]
    assert result.returncode == 0 and findings == [], output


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_is_hardened_and_migrates_the_store_first(name: str) -> None:
    unit = parse_unit(UNITS / name)
    service = unit["Service"]
    assert one(unit, "Service", "User") == "syncd"
    assert one(unit, "Service", "ExecStartPre") == f"{INSTALLED_SYNCD} db upgrade"
    # ProtectSystem=strict leaves only StateDirectory= writable: the state dir
    # the config uses must be exactly that one.
    assert one(unit, "Service", "ProtectSystem") == "strict"
    state = one(unit, "Service", "StateDirectory")
    assert f"SYNCD_STATE_DIR=/var/lib/{state}" in service["Environment"]
    assert one(unit, "Service", "StateDirectoryMode") == "0700"
    assert any(e.startswith("SYNCD_CONFIG=/etc/") for e in service["Environment"])
    assert "ReadWritePaths" not in service
    # The master key comes as a credential (master_key = { credential = "master.key" }).
    assert any(c.startswith("master.key:/") for c in service["LoadCredential"])
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
        "SystemCallFilter": "@system-service",
    }.items():
        assert one(unit, "Service", key) == value, key
    # sd_notify and the journal are Unix sockets; Graph and Salesforce are IP.
    families = one(unit, "Service", "RestrictAddressFamilies").split()
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(families)


def test_the_daemon_unit_is_notify_with_a_watchdog_and_a_graceful_stop() -> None:
    unit = parse_unit(UNITS / "syncd.service")
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert one(unit, "Service", "ExecStart") == f"{INSTALLED_SYNCD} run"
    assert seconds(one(unit, "Service", "WatchdogSec")) >= 30
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    # Running jobs finish their page before the process exits.
    assert seconds(one(unit, "Service", "TimeoutStopSec")) >= 60
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_api_unit_serves_and_migrates_after_the_daemon() -> None:
    unit = parse_unit(UNITS / "syncd-api.service")
    assert one(unit, "Service", "ExecStart") == f"{INSTALLED_SYNCD} serve"
    assert "syncd.service" in unit["Unit"]["After"]
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_reconcile_unit_and_its_timer() -> None:
    service = parse_unit(UNITS / "syncd-reconcile.service")
    assert one(service, "Service", "Type") == "oneshot"
    assert one(service, "Service", "ExecStart") == f"{INSTALLED_SYNCD} reconcile"
    # Failed records (exit 1) are retried by the next pass; setup errors fail the unit.
    tolerated = one(service, "Service", "SuccessExitStatus").split()
    assert str(EXIT_RECORDS_FAILED) in tolerated and str(EXIT_SETUP) not in tolerated
    assert "Install" not in service, "the timer starts it; it is not enabled on its own"

    timer = parse_unit(UNITS / "syncd-reconcile.timer")
    assert timer["Timer"].get("Unit", ["syncd-reconcile.service"]) == ["syncd-reconcile.service"]
    assert seconds(one(timer, "Timer", "OnUnitActiveSec")) > 0
    assert seconds(one(timer, "Timer", "OnBootSec")) > 0
    assert one(timer, "Install", "WantedBy") == "timers.target"


def test_the_postgresql_dropin_sets_the_store_url_syncd_reads_and_a_password_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = parse_unit(POSTGRES_DROPIN)["Service"]
    env = dict(e.split("=", 1) for e in service["Environment"])
    # The variable is the one the settings read (pydantic-settings, SYNCD_ prefix).
    monkeypatch.setenv("SYNCD_DATABASE_URL", env["SYNCD_DATABASE_URL"])
    assert Settings().database_url == env["SYNCD_DATABASE_URL"]
    assert make_url(normalize_url(env["SYNCD_DATABASE_URL"])).drivername == "postgresql+psycopg"
    # No password in the URL: libpq reads it from the credential named by PGPASSFILE.
    assert make_url(env["SYNCD_DATABASE_URL"]).password is None
    assert env["PGPASSFILE"] == "%d/pgpass"
    assert any(c.startswith("pgpass:/etc/syncd/credentials/") for c in service["LoadCredential"])
