"""`syncd run` (no API) serves /metrics on its `[metrics] port`: its jobs' outcomes,
the ledger's gauges and the lease it holds; port 0 turns the endpoint off."""

from __future__ import annotations

import signal
import subprocess
import urllib.error

from syncd.config import MetricsServerConfig
from syncd.metrics.server import serve_metrics
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
