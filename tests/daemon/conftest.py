"""Fixtures of the daemon and sync command-line tests.

Each test gets a sandbox of its own (Microsoft 365 plus a Salesforce org with
a few demo Events), started in this process, and a config directory whose
tenant reaches it through `[sandbox] connection_file`: so `syncd` subprocesses
and in-process runtimes see the same sandbox, and its state lasts between them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.ledger.db import upgrade
from syncd.sandbox.server import start_sandbox, write_connection_file
from tests.daemon.helpers import DEMO, TENANT, NotifyListener, World, write_demo_config


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=[DEMO.spec()]) as sandbox:
        connection = write_connection_file(sandbox)
        config_path = write_demo_config(tmp_path / "config", connection)
        upgrade(load_config(config_path).database_url)
        yield World(sandbox, config_path, tmp_path, TENANT)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a Unix socket path holds at most 107 bytes,
    and pytest's tmp_path can be longer than that."""
    path = Path(tempfile.mkdtemp(prefix="syncd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def notify_socket(short_dir: Path) -> Iterator[NotifyListener]:
    path = str(short_dir / "notify")
    listener = NotifyListener(path, path)
    yield listener
    listener.close()
