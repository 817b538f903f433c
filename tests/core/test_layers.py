"""The layers hold: only the scheduler core writes meetings to Graph or the ledger, and
imports run one way (faces -> sync -> core -> ports -> domain), read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from syncd.graph.port import WRITE_METHODS

ROOT = Path(__file__).resolve().parents[2] / "syncd"
#: What a module outside the core may not import: sessions of the ledger's database.
SESSION_IMPORTS = {"syncd.ledger.db", "syncd.ledger.repository", "sqlmodel", "sqlalchemy.orm"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).glob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module `path` imports (also inside functions and TYPE_CHECKING blocks)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def called_methods(path: Path) -> set[str]:
    """Names of the attributes `path` calls (x.update_event(...) -> update_event)."""
    return {
        node.func.attr
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


@pytest.mark.parametrize("path", modules("sync"), ids=lambda p: p.name)
def test_the_sync_opens_no_ledger_session(path: Path) -> None:
    forbidden = {
        name
        for name in imported(path)
        if any(name == f or name.startswith(f + ".") for f in SESSION_IMPORTS)
        or name.endswith(".Session")
    }
    assert not forbidden, f"{path.name} imports {sorted(forbidden)}: read through "
    "syncd.ledger.queries, write through the scheduler core"


@pytest.mark.parametrize("path", modules("sync"), ids=lambda p: p.name)
def test_the_sync_calls_no_graph_write(path: Path) -> None:
    writes = called_methods(path) & WRITE_METHODS
    assert not writes, f"{path.name} calls Graph's {sorted(writes)}: only the core writes Outlook"


@pytest.mark.parametrize(
    ("package", "below"),
    [
        ("ledger", ("syncd.sync", "syncd.core", "syncd.api", "syncd.daemon", "syncd.runtime")),
        ("core", ("syncd.sync", "syncd.api", "syncd.daemon", "syncd.runtime", "syncd.cli")),
        ("sync", ("syncd.api", "syncd.daemon", "syncd.runtime", "syncd.cli")),
    ],
)
def test_imports_run_one_way(package: str, below: tuple[str, ...]) -> None:
    upward = {
        f"{path.name}: {name}"
        for path in modules(package)
        for name in imported(path)
        if any(name == b or name.startswith(b + ".") for b in below)
    }
    assert not upward, f"syncd.{package} imports a layer above it: {sorted(upward)}"


def test_the_sync_jobs_import_no_cycle() -> None:
    """The series code and the jobs that run it import each other in one direction only."""
    series = imported(ROOT / "sync" / "recurrence.py")
    assert not {"syncd.sync.service", "syncd.sync.poll"} & series


@pytest.mark.parametrize(
    "path", [*modules("core"), *modules("sync"), *modules("ledger")], ids=lambda p: p.name
)
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines < 500, f"{path.name} has {lines} lines: split it by job"
