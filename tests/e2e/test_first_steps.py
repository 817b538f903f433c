"""What a newcomer meets in the first minutes, run as real `syncd` processes: a store created
by `db upgrade`, a port already taken, a bad environment override. Each answer says what
happened and what to do, with exit status 2 and no traceback."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def syncd(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of the shipped config (its state lands in the temp dir)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path / "config" / "syncd.toml"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_db_upgrade_says_it_created_the_store(config: Path) -> None:
    created = syncd(config, "db", "upgrade")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("state store created at revision "), created.stdout
    again = syncd(config, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("state store is up to date (revision "), again.stdout


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (("serve",), "SYNCD_API__PORT"),
        (("run", "--api"), "SYNCD_API__PORT"),
        (("sandbox",), "SYNCD_SANDBOX__PORT"),
    ],
)
def test_a_busy_port_names_both_ways_to_pick_another(
    config: Path, taken_port: int, command: tuple[str, ...], variable: str
) -> None:
    assert syncd(config, "db", "upgrade").returncode == 0
    refused = syncd(config, *command, "--port", str(taken_port))
    assert refused.returncode == 2, refused.stderr
    assert (
        f"syncd: port {taken_port} on 127.0.0.1 is in use: pass --port or set {variable}"
        in refused.stderr
    )
    assert "Traceback" not in refused.stderr


def test_the_port_variable_named_in_the_message_is_the_one_read(
    config: Path, taken_port: int
) -> None:
    # The variable the message names really sets the port (no --port given).
    refused = syncd(config, "sandbox", env={"SYNCD_SANDBOX__PORT": str(taken_port)})
    assert refused.returncode == 2 and f"port {taken_port} " in refused.stderr, refused.stderr


def test_a_bad_environment_override_names_the_variable_not_the_file(config: Path) -> None:
    refused = syncd(config, "config", "check", env={"SYNCD_API__PORT": "eighty"})
    assert refused.returncode == 2
    assert f"invalid configuration in the environment (overriding {config})" in refused.stderr
    assert "environment variable SYNCD_API__PORT (overrides key 'api.port')" in refused.stderr


def test_the_readme_reconcile_sample_is_what_the_demo_prints(config: Path) -> None:
    # The README shows a first `syncd reconcile` of the demo tenant with the sandbox's clock
    # set by the command line it prints (so the sample holds on any day); its summary lines
    # are what the demo prints, and the integration user, which has no mailbox, is not
    # asked for availability.
    readme = (REPO / "README.md").read_text()
    command = re.search(r"^\$ SYNCD_SANDBOX__START=(\S+) syncd reconcile$", readme, re.MULTILINE)
    assert command, "the README's reconcile sample names the sandbox's start"
    pinned = {"SYNCD_SANDBOX__START": command[1]}
    assert syncd(config, "db", "upgrade").returncode == 0
    ran = syncd(config, "reconcile", env=pinned)
    assert ran.returncode == 1, ran.stderr  # the demo's two users without a mailbox
    sample = readme[command.end() : readme.index("$ syncd status", command.end())]

    def summaries(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("tenant demo:")]

    assert summaries(sample) == summaries(ran.stdout)
    assert "syncd.integration" not in ran.stdout
