"""The `syncd` command line."""

from __future__ import annotations

import argparse
import errno
import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from syncd.config import ConfigError, LoadedConfig, load_config
from syncd.ledger.db import StoreNotMigrated
from syncd.listening import API_PORT_VARIABLE, SANDBOX_PORT_VARIABLE, ensure_free, port_in_use
from syncd.operator_commands import add_operator_commands

log = logging.getLogger("syncd")


def _config(args: argparse.Namespace) -> LoadedConfig:
    return load_config(Path(args.config) if args.config else None)


def _setup_logging(level: str, log_format: str = "plain") -> None:
    from syncd.logs import configure_logging

    configure_logging(level, log_format)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from syncd.ledger.db import upgrade_reporting

    config = _config(args)
    print(upgrade_reporting(config.database_url))
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    config = _config(args)
    print(f"configuration {config.path} parses")
    for tenant in config.tenants.values():
        print(
            f"  tenant {tenant.name}: provider={tenant.provider}, "
            f"domains={', '.join(tenant.mail_domains)}"
        )
    from syncd.doctor.command import offline_problems

    offline = offline_problems(config, sys.stdout)
    if offline:  # the same checks `syncd doctor` runs first; it also asks the services
        raise ConfigError("\n".join([*offline, "(`syncd doctor` also checks the services)"]))
    print(
        f"configuration {config.path} is valid (secrets resolve; `syncd doctor` asks the services)"
    )
    if not args.salesforce:
        return 0
    from syncd.org_check import check_orgs

    print("asking each tenant's Salesforce org (one Event query of at most one row):")
    problems = check_orgs(config, sys.stdout)
    if problems:
        raise ConfigError("\n".join(problems))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from syncd.api.app import create_app
    from syncd.api.server import api_server_config
    from syncd.metrics.collectors import install_ledger
    from syncd.runtime import build_runtime

    config = _config(args)
    _setup_logging(config.settings.log_level, config.settings.log_format)
    host = args.host or config.settings.api.host
    port = args.port if args.port is not None else config.settings.api.port
    ensure_free(host, port, API_PORT_VARIABLE)
    runtime = build_runtime(config, role="api")
    try:
        install_ledger(runtime.engine, list(config.tenants))  # the gauges of /metrics
        app = create_app(runtime)
        for name, tenant in config.tenants.items():
            where = "built-in sandbox" if tenant.provider == "sandbox" else "Microsoft 365"
            print(f"tenant {name}: {where} ({', '.join(tenant.mail_domains)})", file=sys.stderr)
        if runtime.sandbox is not None:
            print(f"sandbox Microsoft 365: {runtime.sandbox.base_url}", file=sys.stderr)
            for name in runtime.config.tenants:
                if runtime.config.tenant(name).provider == "sandbox":
                    users = [u.email for u in runtime.sandbox.tenant(name).users if u.has_mailbox]
                    print(f"  {name} mailboxes: {', '.join(users[:4])}, ...", file=sys.stderr)
        print(
            f"Scheduler API on http://{host}:{port}  (docs: http://{host}:{port}/docs)\n"
            "mint a client with: syncd clients create --tenant demo --json",
            file=sys.stderr,
        )
        settings = config.settings.api
        server = uvicorn.Server(api_server_config(app, settings=settings, host=host, port=port))
        server.run()
        if not server.started:
            raise ConfigError(
                f"the Scheduler API could not listen on {host}:{port}: "
                "pass --port or set SYNCD_API__PORT"
            )
    finally:
        runtime.close()
    return 0


def _store_failure_is_setup_error(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """A state store that cannot be reached or read exits 2, like a bad configuration:
    the sync commands promise 1 for failed records only (systemd tells them apart)."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return command(args)
        except SQLAlchemyError as error:
            print(f"syncd: the state store failed: {error}", file=sys.stderr)
            return 2

    return run


@_store_failure_is_setup_error
def cmd_run(args: argparse.Namespace) -> int:
    from syncd.sync_commands import run_daemon

    config = _config(args)
    _setup_logging(config.settings.log_level, config.settings.log_format)
    host = args.host or config.settings.api.host
    port = args.port if args.port is not None else config.settings.api.port
    if args.api:
        ensure_free(host, port, API_PORT_VARIABLE)
    return run_daemon(config, api=args.api, host=host, port=port)


@_store_failure_is_setup_error
def cmd_reconcile(args: argparse.Namespace) -> int:
    from syncd.sync_commands import reconcile

    config = _config(args)
    _setup_logging(args.log_level or "WARNING", config.settings.log_format)
    return reconcile(
        config,
        tenant=args.tenant,
        dry_run=args.dry_run,
        full=args.full,
        show_plan=args.plan,
        out=sys.stdout,
    )


@_store_failure_is_setup_error
def cmd_status(args: argparse.Namespace) -> int:
    from syncd.sync_commands import status

    config = _config(args)
    return status(config, tenant=args.tenant, as_json=args.json, out=sys.stdout)


@_store_failure_is_setup_error
def cmd_history(args: argparse.Namespace) -> int:
    from syncd.history_command import history

    config = _config(args)
    return history(
        config, args.salesforce_id, tenant=args.tenant, as_json=args.json, out=sys.stdout
    )


def cmd_sandbox(args: argparse.Namespace) -> int:
    from syncd.runtime import sandbox_specs
    from syncd.sandbox.server import run_standalone

    config = _config(args)
    _setup_logging(config.settings.log_level, config.settings.log_format)
    host = args.host or config.settings.sandbox.host
    port = args.port if args.port is not None else config.settings.sandbox.port
    ensure_free(host, port, SANDBOX_PORT_VARIABLE)
    try:
        run_standalone(
            host=host,
            port=port,
            state_dir=config.settings.state_dir / "sandbox",
            specs=sandbox_specs(config),
        )
    except OSError as error:
        if error.errno == errno.EADDRINUSE:  # taken between the check and the bind
            raise port_in_use(host, port, SANDBOX_PORT_VARIABLE) from None
        raise
    return 0


def cmd_clients_create(args: argparse.Namespace) -> int:
    from syncd.auth.clients import create_client
    from syncd.ledger.db import ensure_migrated, make_engine
    from syncd.runtime import load_master_key

    config = _config(args)
    config.tenant(args.tenant)
    engine = make_engine(config.database_url)
    ensure_migrated(engine)
    created = create_client(
        engine,
        tenant=args.tenant,
        method=args.method,
        master_key=load_master_key(config),
        description=args.description,
        refresh_token_ttl_days=config.settings.api.refresh_token_ttl_days,
    )
    if args.json:
        print(json.dumps(created))
    else:
        for key, value in created.items():
            print(f"{key}: {value}")
        print("store the secret now: it is not shown again", file=sys.stderr)
    return 0


def cmd_clients_list(args: argparse.Namespace) -> int:
    from syncd.auth.clients import list_clients
    from syncd.ledger.db import ensure_migrated, make_engine

    config = _config(args)
    if args.tenant is not None:
        config.tenant(args.tenant)  # an unknown tenant is an error, as for every command
    engine = make_engine(config.database_url)
    ensure_migrated(engine)
    rows = list_clients(engine, tenant=args.tenant)
    if args.json:
        print(json.dumps(rows, default=str))
    else:
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def cmd_clients_revoke(args: argparse.Namespace) -> int:
    from syncd.auth.clients import revoke_client
    from syncd.ledger.db import ensure_migrated, make_engine

    config = _config(args)
    engine = make_engine(config.database_url)
    ensure_migrated(engine)
    if not revoke_client(engine, client_id=args.client_id):
        print(
            f"syncd: no API client '{args.client_id}'; nothing was revoked "
            "(`syncd clients list` shows the client ids)",
            file=sys.stderr,
        )
        return 2
    print(f"client {args.client_id} revoked")
    return 0


def _version() -> str:
    """The installed distribution's version (what pip and the package manager say)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("syncd")
    except PackageNotFoundError:  # run from a checkout that was never installed
        from syncd import __version__

        return f"{__version__} (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syncd", description="Salesforce -> Microsoft 365 meeting scheduler"
    )
    parser.add_argument(
        "--config", help="daemon config file (default: $SYNCD_CONFIG or config/syncd.toml)"
    )
    parser.add_argument("--version", action="version", version=f"syncd {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_operator_commands(commands, _store_failure_is_setup_error)

    db = commands.add_parser("db", help="state store").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="create or migrate the state store").set_defaults(
        func=cmd_db_upgrade
    )

    config = commands.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True
    )
    check = config.add_parser("check", help="validate the configuration")
    check.add_argument(
        "--salesforce",
        action="store_true",
        help="also log in to each tenant's Salesforce org and run its Event query "
        "(with salesforce.scope.extra_filter) for one row",
    )
    check.set_defaults(func=cmd_config_check)

    from syncd.doctor.command import add_doctor_command

    add_doctor_command(commands)

    serve = commands.add_parser("serve", help="serve the Scheduler API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    run = commands.add_parser("run", help="run the sync daemon (every tenant's jobs)")
    run.add_argument("--api", action="store_true", help="also serve the Scheduler API")
    run.add_argument("--host", help="API host (with --api)")
    run.add_argument("--port", type=int, help="API port (with --api)")
    run.set_defaults(func=cmd_run)

    once = commands.add_parser("reconcile", help="one sync pass, then exit")
    once.add_argument("--tenant", help="only this tenant (default: all)")
    once.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    once.add_argument("--full", action="store_true", help="full resync, not incremental")
    once.add_argument("--plan", action="store_true", help="print one line per planned step")
    once.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level for this run (default WARNING)",
    )
    once.set_defaults(func=cmd_reconcile)

    state = commands.add_parser("status", help="per tenant: last poll, backlog, failures")
    state.add_argument("--tenant")
    state.add_argument("--json", action="store_true")
    state.set_defaults(func=cmd_status)

    changes = commands.add_parser(
        "history", help="what syncd changed (and saw in Outlook) for one Salesforce Event"
    )
    changes.add_argument("salesforce_id", metavar="SALESFORCE_ID")
    changes.add_argument("--tenant")
    changes.add_argument("--json", action="store_true")
    changes.set_defaults(func=cmd_history)

    sandbox = commands.add_parser(
        "sandbox", help="run the sandbox Microsoft 365 and Salesforce standalone"
    )
    sandbox.add_argument("--host")
    sandbox.add_argument("--port", type=int)
    sandbox.set_defaults(func=cmd_sandbox)

    clients = commands.add_parser("clients", help="Scheduler API clients").add_subparsers(
        dest="clients", required=True
    )
    create = clients.add_parser("create", help="mint a client for one tenant")
    create.add_argument("--tenant", required=True)
    create.add_argument("--method", choices=("oauth", "hmac"), default="oauth")
    create.add_argument("--description", default="")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=cmd_clients_create)
    listing = clients.add_parser("list", help="list clients")
    listing.add_argument("--tenant")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_clients_list)
    revoke = clients.add_parser("revoke", help="revoke a client and its tokens")
    revoke.add_argument("client_id")
    revoke.set_defaults(func=cmd_clients_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, StoreNotMigrated) as error:
        print(f"syncd: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
