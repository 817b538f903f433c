"""A real sync pass against the sandbox, then a scrape over HTTP: the metrics agree
with the clients' own counts, the pass report and the ledger, and no label carries
an id or an address."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from syncd.config import MetricsServerConfig
from syncd.domain import Source
from syncd.ledger.lease import LocalLeases
from syncd.logs import log_context
from syncd.metrics.collectors import install_leases, install_ledger
from syncd.metrics.jobs import metered
from syncd.metrics.server import MetricsServer, serve_metrics
from syncd.runtime import Runtime
from syncd.tenant_status import tenant_status
from tests.daemon.helpers import TENANT, World, mailbox_users
from tests.metrics.scrape import delta, fetch, label_values, samples, total
from tests.support import free_port

#: How far the sandbox clock moves between the Events' last change and the pass.
ADVANCE_SECONDS = 600
#: What may never be a label value: an address, a GUID, a Salesforce or Graph id.
FORBIDDEN = re.compile(
    r"@|%40|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-|\b[0-9a-zA-Z]{3}[0-9][0-9a-zA-Z]{11}(?:[0-9a-zA-Z]{3})?\b|AAMk"
)


@pytest.fixture
def metrics_server() -> Iterator[MetricsServer]:
    server = serve_metrics(MetricsServerConfig(port=free_port()))
    assert server is not None
    yield server
    server.stop()


def test_a_pass_scraped_over_http_matches_the_clients_counts(
    world: World, runtime: Runtime, metrics_server: MetricsServer
) -> None:
    url = f"http://127.0.0.1:{metrics_server.port}/metrics"
    service = runtime.sync_service(TENANT)
    graph, salesforce = service.scheduler.graph, service.salesforce
    install_ledger(runtime.engine, [TENANT])
    before = samples(fetch(url))
    graph_before, sf_before = graph.counter.snapshot(), salesforce.usage.snapshot()

    world.sandbox.clock.advance(ADVANCE_SECONDS)
    with log_context(tenant_name=TENANT, correlation=f"{TENANT}-poll"):
        report = metered(TENANT, "poll", service.poll)()
        service.refresh_responses()
        service.snapshot_availability()
        # Meetings read by id go through $batch (as the response refresh does for
        # meetings calendarView misses): its inner requests count one each.
        created = [s.salesforce_id for s in report.steps if s.action.value == "create"]
        rows = [service.scheduler.record_of(i, source=Source.SALESFORCE) for i in created]
        items = [(r.organizer_email, r.graph_event_id) for r in rows if r and r.graph_event_id]
        answers = graph.get_events_batch([*items, *items])  # 34 requests: two envelopes
    text = fetch(url)
    after = samples(text)
    graph_after, sf_after = graph.counter.snapshot(), salesforce.usage.snapshot()

    # Graph: round trips (a $batch is one) and requests (its inner ones each).
    round_trips = graph_after["http_round_trips"] - graph_before["http_round_trips"]
    requests_ = graph_after["graph_requests"] - graph_before["graph_requests"]
    assert len(answers) == 2 * len(items) > 20 and requests_ > round_trips
    graph_http = delta(
        before, after, "syncd_http_requests_total", lambda x: x["service"] == "graph"
    )
    assert graph_http == round_trips
    assert delta(before, after, "syncd_graph_requests_total") == requests_
    batched = delta(
        before,
        after,
        "syncd_graph_requests_total",
        lambda x: x["route"] == "/users/{user}/events/{id}",
    )
    assert batched == 2 * len(items)
    # Salesforce: every REST call the client counted (the login is counted apart).
    sf_calls = sf_after["total_calls"] - sf_before["total_calls"]
    rest = lambda x: x["service"] == "salesforce" and x["route"] != "/services/oauth2/token"  # noqa: E731
    assert sf_calls > 0 and delta(before, after, "syncd_http_requests_total", rest) == sf_calls

    # Outcomes per action, from the pass report; the job's run.
    assert report.counts["create"] > 0 and report.counts["fail"] > 0
    for action, count in report.counts.items():
        by_action = lambda x, a=action: x["tenant"] == TENANT and x["action"] == a  # noqa: E731
        assert delta(before, after, "syncd_sync_records_total", by_action) == count
    ran = lambda x: x == {"tenant": TENANT, "job": "poll", "result": "ok"}  # noqa: E731
    assert delta(before, after, "syncd_job_runs_total", ran) == 1

    # The lag: one observation per meeting written to Outlook, each at least the time
    # the clock moved since the Events were stamped.
    ours = lambda x: x.get("tenant") == TENANT  # noqa: E731
    written = report.counts["create"] + report.counts["update"] + report.counts["cancel"]
    assert delta(before, after, "syncd_sync_lag_seconds_count", ours) == written
    assert delta(before, after, "syncd_sync_lag_seconds_sum", ours) >= written * ADVANCE_SECONDS
    quick = lambda x: ours(x) and x["le"] == "300.0"  # noqa: E731
    assert delta(before, after, "syncd_sync_lag_seconds_bucket", quick) == 0

    # The ledger's gauges are what `syncd status` says.
    status = tenant_status(runtime.engine, TENANT, world.sandbox.clock.now())
    assert status["backlog"] > 0
    assert total(after, "syncd_sync_backlog_records", ours) == status["backlog"]
    assert total(after, "syncd_failed_records", ours) == status["failures_total"]
    for name, count in status["counts"].items():
        of_status = lambda x, s=name: ours(x) and x["status"] == s  # noqa: E731
        assert total(after, "syncd_meetings", of_status) == count

    # No label carries an address or an id, and none of the pass's appears anywhere.
    syncd_labels = label_values(after)
    assert syncd_labels and not [v for v in syncd_labels if FORBIDDEN.search(v)]
    syncd_text = "\n".join(line for line in text.splitlines() if line.startswith("syncd_"))
    for secret in [*created, *mailbox_users(world.sandbox), *(g for _, g in items)]:
        assert secret not in syncd_text


def test_the_lease_gauge_says_which_leases_this_process_holds(
    metrics_server: MetricsServer,
) -> None:
    url = f"http://127.0.0.1:{metrics_server.port}/metrics"
    leases = LocalLeases()
    install_leases(leases, ["north", "south"])
    leases.acquire("north")
    held = samples(fetch(url))
    assert total(held, "syncd_lease_held", lambda x: x["lease"] == "north") == 1
    assert total(held, "syncd_lease_held", lambda x: x["lease"] == "south") == 0
    leases.release("north")
    released = samples(fetch(url))
    assert total(released, "syncd_lease_held", lambda x: x["lease"] == "north") == 0
