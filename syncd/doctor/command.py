"""The `syncd doctor` command: run the checks, print them, exit 1 on any ✗."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from syncd.config import ConfigError, LoadedConfig, load_config
from syncd.doctor.config_checks import offline_checks
from syncd.doctor.render import render
from syncd.doctor.report import CONFIGURATION, DoctorReport, TenantReport, failed
from syncd.doctor.run import run_doctor


def add_doctor_command(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor", help="check configuration, credentials, permissions and clocks per tenant"
    )
    doctor.add_argument("--tenant", help="only this tenant (default: all)")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    try:
        config = load_config(Path(args.config) if args.config else None)
    except ConfigError as exc:
        report = DoctorReport(
            [
                TenantReport(
                    "*",
                    [
                        failed(
                            CONFIGURATION,
                            "parses",
                            str(exc),
                            "fix the file and key named above (`syncd config check`)",
                        )
                    ],
                )
            ]
        )
    else:
        _quiet_logs()
        report = run_doctor(config, [args.tenant] if args.tenant else None)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render(report))
    return 0 if report.ok else 1


def _quiet_logs() -> None:
    """The checks speak for themselves: library warnings would repeat them out of order."""
    import logging

    logging.basicConfig(
        level=logging.ERROR, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def offline_problems(config: LoadedConfig, out: TextIO) -> list[str]:
    """`syncd config check`: what the doctor can tell without the network (every secret
    resolves, secret files are private); prints a line per tenant, returns the problems."""
    problems = []
    for name, checks in offline_checks(config, list(config.tenants)).items():
        failures = [check for check in checks if not check.ok]
        if not failures:
            print(f"  tenant {name}: {len(checks)} secret check(s) passed", file=out)
        for check in failures:
            problems.append(f"tenant '{name}': {check.name}: {check.detail}; fix: {check.advice}")
    return problems
