"""The arrows between syncd's layers (ARCHITECTURE.md), as import-linter contracts in
pyproject.toml ([tool.importlinter]), checked on the code as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(contract: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--contract", contract],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )


def test_each_layer_imports_only_the_layers_below_it() -> None:
    result = lint("layers")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("contract", ["sandbox-apart", "product-without-sandbox", "no-tests"])
def test_the_sandbox_and_the_tests_stay_apart_from_the_product(contract: str) -> None:
    result = lint(contract)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), i.e. the cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_of_syncd_imports_itself_round_a_cycle() -> None:
    """Within a layer too: a cycle makes two modules one, whatever their names say.
    Imports for type checking only are left out (they do not run)."""
    graph = grimp.build_graph("syncd", exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if m.startswith("syncd")}
    assert _cycles(graph, modules) == []
