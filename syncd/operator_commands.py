"""The operator faces of the command line: `syncd retry`, `syncd pause`, `syncd resume`.

They change the ledger only; the daemon (or the next `syncd reconcile`) acts on it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine

from syncd.config import ConfigError, LoadedConfig, load_config
from syncd.ledger import tenant_state as ts
from syncd.ledger.db import ensure_migrated, make_engine
from syncd.ledger.retries import retry_now, tenants_of

Command = Callable[[argparse.Namespace], int]


def _engine(config: LoadedConfig) -> Engine:
    engine = make_engine(config.database_url)
    ensure_migrated(engine)
    return engine


def _now() -> datetime:
    return datetime.now(UTC)


def _who() -> str:
    try:
        return f"{getpass.getuser()} (syncd pause)"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "syncd pause"


def retry(
    config: LoadedConfig,
    *,
    record: str | None,
    tenant: str | None,
    out: TextIO,
    now: datetime,
) -> int:
    """Make one failed record (or every failed one) due for the next retry pass now."""
    engine = _engine(config)
    try:
        if tenant is not None:
            config.tenant(tenant)
        names = [tenant] if tenant else list(config.tenants)
        if record is not None:
            owners = tenants_of(engine, record, names)
            if not owners:
                raise ConfigError(
                    f"no Salesforce record '{record}' in "
                    f"{'tenant ' + tenant if tenant else 'any tenant'} "
                    "(`syncd status` lists the failed records)"
                )
            if len(owners) > 1:
                raise ConfigError(
                    f"record '{record}' is in tenants {', '.join(owners)}: name one with --tenant"
                )
            names = owners
        for name in names:
            count = retry_now(engine, name, [record] if record else None, now)
            every = config.tenants[name].salesforce.schedules.retry_failed_seconds
            if record is not None and not count:
                print(f"tenant {name}: record {record} has not failed: nothing to retry", file=out)
                continue
            paused = ts.is_paused(engine, name)
            after = (
                f"it is {paused.describe()}: they wait until `syncd resume --tenant {name}`"
                if paused
                else f"the daemon's next retry pass (every {every} s) or "
                f"`syncd reconcile --tenant {name}` takes them"
            )
            print(f"tenant {name}: {count} failed record(s) due now; {after}", file=out)
    finally:
        engine.dispose()
    return 0


def set_paused(
    config: LoadedConfig, *, tenant: str, paused: bool, reason: str | None, out: TextIO
) -> int:
    config.tenant(tenant)
    engine = _engine(config)
    try:
        if paused:
            ts.pause(engine, tenant, now=_now(), by=_who(), reason=reason)
            print(
                f"tenant {tenant}: paused; the daemon's jobs and `syncd reconcile` skip it "
                f"until `syncd resume --tenant {tenant}` (the Scheduler API keeps serving it)",
                file=out,
            )
        elif ts.resume(engine, tenant, now=_now()):
            print(f"tenant {tenant}: resumed; its next jobs run as scheduled", file=out)
        else:
            print(f"tenant {tenant}: was not paused", file=out)
    finally:
        engine.dispose()
    return 0


def _config(args: argparse.Namespace) -> LoadedConfig:
    return load_config(Path(args.config) if args.config else None)


def cmd_retry(args: argparse.Namespace) -> int:
    return retry(_config(args), record=args.id, tenant=args.tenant, out=sys.stdout, now=_now())


def cmd_pause(args: argparse.Namespace) -> int:
    return set_paused(
        _config(args), tenant=args.tenant, paused=True, reason=args.reason, out=sys.stdout
    )


def cmd_resume(args: argparse.Namespace) -> int:
    return set_paused(_config(args), tenant=args.tenant, paused=False, reason=None, out=sys.stdout)


def add_operator_commands(commands: Any, wrap: Callable[[Command], Command]) -> None:
    """Register retry, pause and resume on the `syncd` sub-command parser."""
    again = commands.add_parser(
        "retry", help="retry failed records at the next retry pass (clears their back-off)"
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the Salesforce Event id of a failed record")
    which.add_argument("--failed", action="store_true", help="every failed record")
    again.add_argument("--tenant", help="only this tenant (default: all)")
    again.set_defaults(func=wrap(cmd_retry))

    pause = commands.add_parser("pause", help="pause a tenant's sync (the API keeps serving)")
    pause.add_argument("--tenant", required=True)
    pause.add_argument("--reason", help="shown on the status page and in the daemon's log")
    pause.set_defaults(func=wrap(cmd_pause))

    resume = commands.add_parser("resume", help="resume a paused tenant's sync")
    resume.add_argument("--tenant", required=True)
    resume.set_defaults(func=wrap(cmd_resume))
