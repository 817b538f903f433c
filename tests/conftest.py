"""Shared fixtures: one sandbox Microsoft 365, a migrated ledger, a live API.

Everything runs over real HTTP(S) on 127.0.0.1 with the real client libraries.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.config import LoadedConfig, load_config
from syncd.ledger.db import upgrade
from syncd.runtime import Runtime, build_runtime, connection_of
from syncd.sandbox.server import RunningSandbox, SandboxTenantSpec, start_sandbox
from tests.support import SEED_MAILBOX, TENANTS, ThreadedServer, write_test_config

# Every secret minted during the run is recorded, and the session fails if any
# log line of any test holds one (see tests/security/log_scan.py).
# tests/scale_out/store_plugin.py: the SQLite and the PostgreSQL run of the suite.
# tests/graph_schema/plugin.py: every Graph body syncd sends and every event the sandbox
# returns is held to Microsoft's published v1.0 metadata.
pytest_plugins = [
    "tests.security.log_scan",
    "tests.scale_out.store_plugin",
    "tests.graph_schema.plugin",
]


#: The tests `pytest -m "not slow"` (the inner loop) leaves out; CI runs them all. Chosen
#: from `pytest --durations=0`: each takes seconds (a whole directory: its every test
#: does), so together they are most of the suite's time.
SLOW = (
    "tests/reliability/",  # syncd killed mid-write, fault storms: minutes
    "tests/bench/",  # benchmarks
    "tests/scale_out/",  # replicas on PostgreSQL
    "tests/e2e/",  # the README walked through, process by process
    "tests/daemon/",  # `syncd` subprocesses against a fresh sandbox each
    "tests/recurrence/",  # end to end: both sandboxes and a runtime per test
    "tests/sync_e2e/",  # end to end: both sandboxes and a runtime per test
    "tests/bad_input/test_api_fuzz.py",  # fuzzing the API from its OpenAPI document
    "tests/api/test_interleavings.py",  # overlapping requests with injected latency
    "tests/core/test_throttled_mailbox.py",  # waits out Retry-After
    "tests/security/test_credentials_required.py",  # every route, every face
    "tests/sandbox_salesforce/test_soql_properties.py",  # property-based
    "tests/sandbox_salesforce/test_generator.py::test_twenty_thousand_events",
    "tests/sandbox/test_server.py::test_run_standalone_until_sigterm",  # a subprocess
    "tests/graph_schema/test_plugin.py::test_a_test_that_lets_a_broken_body_pass_fails",
    "tests/salesforce/test_against_sandbox.py::test_updated_and_deleted_windows",
    "tests/security/test_soql_inert.py::test_any_id_stays_one_value_of_the_in_list",
    "tests/sandbox_salesforce/test_query.py::test_datetime_literals_and_date_ranges",
    "tests/api/test_lenient_json.py::test_trailing_commas_parse_to_the_same_value",
    "tests/api/test_availability_bounds.py::test_a_hundred_unknown_addresses_over_a_year",
    "tests/console/test_daemon_process.py",  # a `syncd run` process, paused and resumed
    "tests/console/test_status_browser.py",  # chromium and a `syncd serve` process
    "tests/doctor/test_tenant_isolation.py",  # `syncd run --api` and `reconcile` processes
    "tests/doctor/test_doctor_process.py",  # `syncd doctor` processes
    "tests/metrics/test_daemon_port.py",  # a `syncd run` process
    "tests/metrics/test_waits_and_routes.py::test_graph_429s_and_waits_match_the_clients_counter",
    "tests/logs/",  # `syncd reconcile` processes
    "tests/contract/test_salesforce_port.py::test_query_all_follows_the_pages",  # 2,005 Events
)


#: Suites that drive the sandbox (or the API) over HTTPS and take a second or more per
#: file (measured with `pytest --durations=0`). The inner loop keeps the sync's logic on
#: the fakes, the core, the port contracts, the pure parts and the quick HTTPS checks,
#: and runs in well under a minute; CI runs these too, every time.
OVER_HTTPS = (
    "tests/api/test_docs_and_health.py",
    "tests/api/test_end_to_end.py",
    "tests/api/test_lenient_json.py",
    "tests/api/test_slow_clients.py",
    "tests/api/test_wire_shapes.py",
    "tests/auth/test_enumeration.py",
    "tests/auth/test_hmac_http.py",
    "tests/auth/test_legacy_http.py",
    "tests/auth/test_lockout.py",
    "tests/auth/test_oauth_http.py",
    "tests/bad_input/test_api_requests.py",
    "tests/bad_input/test_salesforce_records.py",
    "tests/console/test_operator_auth.py",
    "tests/console/test_operator_cli.py",
    "tests/console/test_pause_and_retry.py",
    "tests/doctor/test_knobs.py",
    "tests/graph/test_against_sandbox.py",
    "tests/graph/test_auth_and_session.py",
    "tests/graph/test_batch_failed_whole.py",
    "tests/graph/test_create_events.py",
    "tests/graph/test_client_behaviour.py",
    "tests/metrics/test_api_latency.py",
    "tests/metrics/test_scrape.py",
    "tests/salesforce/test_against_sandbox.py",
    "tests/sandbox/test_answers.py",
    "tests/sandbox/test_calendar_delta.py",
    "tests/sandbox/test_event_schema.py",
    "tests/sandbox/test_events.py",
    "tests/sandbox/test_faults.py",
    "tests/sandbox/test_graph_strictness.py",
    "tests/sandbox/test_outlook_organizer.py",
    "tests/sandbox/test_identity.py",
    "tests/sandbox/test_throttle.py",
    "tests/sandbox/test_time_zone_names.py",
    "tests/sandbox_salesforce/test_auth.py",
    "tests/sandbox_salesforce/test_limits_and_faults.py",
    "tests/sandbox_salesforce/test_org_shapes.py",
    "tests/sandbox_salesforce/test_query.py",
    "tests/sandbox_salesforce/test_writes.py",
    "tests/security/test_hmac_replay.py",
    "tests/security/test_no_echo.py",
    "tests/security/test_small_leaks.py",
    "tests/security/test_soql_inert.py",
    "tests/security/test_tenant_isolation.py",
    "tests/security/test_token_rotation_and_brute_force.py",
    "tests/security/test_zz_no_secret_in_logs.py",
)


#: Directories whose tests run in one pytest-xdist worker, in order (`pytest -n`): the
#: last test of tests/security scans every log line its directory's tests wrote, and a
#: worker sees only its own.
ONE_WORKER = ("tests/security/",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = pytest.mark.slow
    for item in items:
        if item.nodeid.startswith(SLOW) or item.nodeid.startswith(OVER_HTTPS):
            item.add_marker(slow)
        for directory in ONE_WORKER:
            if item.nodeid.startswith(directory):
                item.add_marker(pytest.mark.xdist_group(directory))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    specs = [
        SandboxTenantSpec(name, domain, users, seed)
        for name, (domain, users, seed) in TENANTS.items()
    ]
    state_dir = tmp_path_factory.mktemp("sandbox")
    with start_sandbox(state_dir=state_dir, tenants=specs) as running:
        running.directory.add_user(running.tenant("seed").id, SEED_MAILBOX, "Seed Sample")
        yield running


@pytest.fixture(scope="session")
def config(tmp_path_factory: pytest.TempPathFactory) -> LoadedConfig:
    path = write_test_config(tmp_path_factory.mktemp("config"))
    loaded = load_config(path)
    upgrade(loaded.database_url)
    return loaded


@pytest.fixture(scope="session")
def runtime(config: LoadedConfig, sandbox: RunningSandbox) -> Iterator[Runtime]:
    built = build_runtime(config, sandbox=connection_of(sandbox, list(TENANTS)))
    yield built
    built.close()


@pytest.fixture
def fresh_sandbox(sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    """The shared sandbox with faults, counters and throttling back at defaults."""
    sandbox.reset()
    yield sandbox
    sandbox.reset()


@pytest.fixture(scope="session")
def api_url(runtime: Runtime) -> Iterator[str]:
    from syncd.api.app import create_app

    server = ThreadedServer(create_app(runtime))
    yield server.url
    server.stop()
