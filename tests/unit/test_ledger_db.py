"""The ledger store: migrations, WAL mode, refusal to run un-migrated."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from syncd.ledger.db import StoreNotMigrated, ensure_migrated, make_engine, upgrade
from tests.store_routing import routed


def test_unmigrated_store_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    engine = make_engine(routed(f"sqlite:///{tmp_path / 'new.db'}"))
    with pytest.raises(StoreNotMigrated, match="syncd db upgrade"):
        ensure_migrated(engine)


@pytest.mark.sqlite_file
def test_upgrade_creates_schema_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'syncd.db'}"
    upgrade(url)
    engine = make_engine(url)
    ensure_migrated(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        tables = {
            row[0]
            for row in connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        }
    assert {"meeting", "watermark", "tombstone", "api_client", "refresh_token"} <= tables
