"""`syncd doctor` as a process: on the demo tenant as the README's first command
configures it (the built-in sandbox, started in the doctor's own process) every
check passes with exit 0; with a misconfiguration it exits 1, prints ✗ with what
to do, and never prints a secret."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from syncd.config import load_config
from syncd.ledger.db import upgrade
from tests.daemon.helpers import REPO, SYNCD, TENANT, World


def _syncd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCD, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPO,
    )


def test_the_demo_tenant_passes_every_check(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    config = tmp_path / "config" / "syncd.toml"
    upgrade(load_config(config).database_url)

    done = _syncd(config, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"tenant {TENANT}:" and lines[-1] == "all checks passed"
    checks = [line for line in lines[1:-1] if not line.startswith("      fix:")]
    assert len(checks) >= 15 and all(line.startswith("  \u2713 ") for line in checks), lines

    as_json = _syncd(config, "doctor", "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["ok"] is True and [t["tenant"] for t in report["tenants"]] == [TENANT]


def test_a_failing_check_exits_1_with_advice_and_no_secret(world: World) -> None:
    world.sandbox.org(TENANT).org.set_view_all_data(False)
    done = world.syncd("doctor", "--tenant", TENANT)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith("  \u2717 ")]
    assert [lines[i] for i in failed] == [
        "  \u2717 Salesforce: View All Data: the integration user lacks View All Data: "
        "it sees only Events shared with it"
    ]
    assert lines[failed[0] + 1].startswith("      fix: assign the integration user a permission")
    assert lines[-1] == "1 check(s) failed"
    connection = json.loads(world.config().tenant(TENANT).sandbox.connection_file.read_text())
    for tenant in connection["tenants"]:
        for secret in (tenant["client_secret"], tenant["salesforce"]["client_secret"]):
            assert secret not in done.stdout + done.stderr
