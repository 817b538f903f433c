"""`syncd config check --salesforce`: the org itself judges the tenant's extra_filter.

Against the sandbox org over HTTPS (its SOQL refuses unknown fields as a real
org does, INVALID_FIELD), through the same Salesforce client the sync uses.
"""

from __future__ import annotations

import pytest

from syncd.cli import main
from tests.daemon.helpers import TENANT, World


def with_filter(world: World, extra_filter: str) -> None:
    tenant_file = world.config_path.parent / "tenants" / f"{TENANT}.toml"
    text = tenant_file.read_text().split("\n[salesforce.scope]")[0]
    tenant_file.write_text(f"{text}\n[salesforce.scope]\nextra_filter = {extra_filter!r}\n")


def check(world: World, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(world.config_path), "config", "check", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_org_refuses_a_filter_that_names_no_field_of_event(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    with_filter(world, "Subjet = 'Demo'")
    code, _out, _err = check(world, capsys)
    assert code == 0, "well formed: only the org knows its fields"
    code, out, err = check(world, capsys, "--salesforce")
    assert code == 2, out
    assert f"tenant '{TENANT}'" in err and "extra_filter" in err
    assert "Subjet" in err, "the org's own message names the field"

    with_filter(world, "Subject != 'Demo' AND IsAllDayEvent = false")
    code, out, err = check(world, capsys, "--salesforce")
    assert code == 0, err
    assert f"tenant {TENANT}: the Salesforce org runs its Event query" in out


def test_a_filter_that_breaks_out_of_its_condition_fails_every_check(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    with_filter(world, "Subject = 'x') OR (IsChild = true")
    code, _out, err = check(world, capsys)
    assert code == 2
    assert "salesforce.scope.extra_filter" in err
    assert "closes a parenthesis it did not open" in err
