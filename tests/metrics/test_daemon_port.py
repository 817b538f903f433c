"""`syncd run` (no API) serves /metrics on its `[metrics] port`: its jobs' outcomes,
the ledger's gauges and the lease it holds; port 0 turns the endpoint off."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import urllib.error

import pytest

from syncd.config import ConfigError, MetricsServerConfig
from syncd.metrics.server import serve_metrics
from syncd.sync_commands import _serve_metrics
from tests.daemon.helpers import REPO, SYNCD, TENANT, World
from tests.metrics.scrape import fetch, samples, total
from tests.support import free_port, wait_until


def _scrape(url: str) -> dict | None:
    try:
        return samples(fetch(url))
    except (urllib.error.URLError, ConnectionError):
        return None


def test_the_daemon_serves_its_metrics_on_the_configured_port(process_world: World) -> None:
    port = free_port()
    with process_world.config_path.open("a") as config:
        config.write(f'\n[metrics]\nport = {port}\nbind = "127.0.0.1"\n')
    daemon = subprocess.Popen(
        [*SYNCD, "--config", str(process_world.config_path), "run"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    ours = lambda x: x.get("tenant") == TENANT  # noqa: E731

    def polled() -> dict | None:
        scrape = _scrape(url)
        polls = lambda x: ours(x) and x["job"] == "poll" and x["result"] == "ok"  # noqa: E731
        return scrape if scrape and total(scrape, "syncd_job_runs_total", polls) >= 1 else None

    try:
        scrape = wait_until(polled, "a poll counted on the daemon's metrics port", timeout=90)
        created = lambda x: ours(x) and x["action"] == "create"  # noqa: E731
        assert total(scrape, "syncd_sync_records_total", created) > 0
        assert total(scrape, "syncd_lease_held", lambda x: x["lease"] == TENANT) == 1
        assert total(scrape, "syncd_sync_backlog_records", ours) >= 0
        assert total(scrape, "syncd_http_requests_total", lambda x: x["service"] == "graph") > 0
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
    assert f"metrics on http://127.0.0.1:{port}/metrics" in err


def test_port_zero_serves_nothing() -> None:
    assert serve_metrics(MetricsServerConfig(port=0)) is None


def test_a_taken_port_is_an_actionable_error_and_the_daemon_goes_on(
    process_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=r"\[metrics\] port"):
            serve_metrics(MetricsServerConfig(port=port))
        with process_world.config_path.open("a") as config:
            config.write(f"\n[metrics]\nport = {port}\n")
        # `syncd run` reports it and syncs on without its metrics endpoint.
        with caplog.at_level(logging.ERROR, logger="syncd"):
            assert _serve_metrics(process_world.config()) is None
    assert f"127.0.0.1:{port}" in caplog.text and "[metrics] port" in caplog.text
