"""The arrows between syncd's layers (ARCHITECTURE.md), as import-linter contracts in
pyproject.toml ([tool.importlinter]), checked on the code as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
