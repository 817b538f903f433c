"""429s and the waits they cause, counted as the Graph client counts them; the
Salesforce budgets' waits by kind; route templates that keep ids and addresses out."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from prometheus_client import generate_latest

from syncd.metrics import registry
from syncd.metrics.routes import graph_inner_route, graph_route, salesforce_route
from syncd.runtime import Runtime
from syncd.salesforce.backoff import limit_backoff, transient_backoff
from tests.daemon.helpers import TENANT, World, mailbox_users
from tests.metrics.scrape import delta, samples


def scrape() -> dict:
    return samples(generate_latest(registry()).decode())


def test_graph_429s_and_waits_match_the_clients_counter(world: World, runtime: Runtime) -> None:
    graph = runtime.graphs[TENANT]
    mailbox = sorted(mailbox_users(world.sandbox))[0]
    # Microsoft's limit is 10,000 per 10 minutes; 3 per 2 seconds shows the same 429s quickly.
    world.sandbox.throttle.configure(requests_per_window=3, window_seconds=2)
    before, counted_before = scrape(), graph.counter.snapshot()
    for _ in range(5):
        graph.mailbox_time_zone(mailbox)
    events = graph.calendar_view(mailbox, *_week(world))
    graph.get_events_batch([(mailbox, str(e["id"])) for e in events[:6]] or [(mailbox, "x")] * 6)
    after, counted = scrape(), graph.counter.snapshot()

    throttled = counted["throttled_responses"] - counted_before["throttled_responses"]
    retries = counted["retries"] - counted_before["retries"]
    waited = counted["seconds_waited"] - counted_before["seconds_waited"]
    assert throttled > 0 and retries > 0
    of_graph = lambda x: x["service"] == "graph"  # noqa: E731
    assert delta(before, after, "syncd_throttled_responses_total", of_graph) == throttled
    assert delta(before, after, "syncd_retry_waits_total", of_graph) == retries
    assert delta(before, after, "syncd_retry_wait_seconds_total", of_graph) == pytest.approx(
        waited, abs=1e-3
    )
    # The sandbox names its wait (Retry-After): the waits are the service's, not a back-off.
    named = lambda x: of_graph(x) and x["kind"] == "throttled"  # noqa: E731
    assert delta(before, after, "syncd_retry_waits_total", named) == retries


def _week(world: World) -> tuple[datetime, datetime]:
    now = world.sandbox.clock.now()
    return now - timedelta(days=7), now + timedelta(days=7)


def test_salesforce_waits_are_counted_by_kind() -> None:
    before = scrape()
    limit, transient = limit_backoff(600), transient_backoff(3)
    limit.spend(limit.next_delay() or 0)
    transient.spend(transient.next_delay() or 0)
    transient.spend(transient.next_delay() or 0)
    after = scrape()

    def waits(kind: str, name: str = "syncd_retry_waits_total") -> float:
        return delta(before, after, name, lambda x: x == {"service": "salesforce", "kind": kind})

    assert waits("throttled") == 1 and waits("throttled", "syncd_retry_wait_seconds_total") == 30
    assert waits("backoff") == 2 and waits("backoff", "syncd_retry_wait_seconds_total") == 3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://graph.microsoft.com/v1.0/users/ada%40contoso.com/events",
            ("graph", "/users/{user}/events"),
        ),
        (
            "https://127.0.0.1:8443/v1.0/users/ada@contoso.com/events/AAMkAD%3D/cancel?x=1",
            ("graph", "/users/{user}/events/{id}/cancel"),
        ),
        ("https://graph.microsoft.com/v1.0/$batch", ("graph", "/$batch")),
        (
            "https://login.microsoftonline.com/0b6c0e6e-3b43-4a5e-8f6f-1d2c3b4a5e6f/oauth2/v2.0/token",
            ("identity", "/{id}/oauth2/v2.0/token"),
        ),
    ],
)
def test_graph_routes_keep_ids_and_addresses_out(url: str, expected: tuple[str, str]) -> None:
    assert graph_route(url) == expected


def test_inner_and_salesforce_routes_keep_ids_out() -> None:
    assert (
        graph_inner_route("/users/b%40x.com/events/AAMk=?$select=id") == "/users/{user}/events/{id}"
    )
    assert salesforce_route("https://x.my.salesforce.com/services/data/v60.0/query?q=SELECT") == (
        "/services/data/{version}/query"
    )
    assert salesforce_route("https://x/services/data/v60.0/query/01gD0000002HU6KIAW-2000") == (
        "/services/data/{version}/query/{id}"
    )
    assert salesforce_route("https://x/services/data/v60.0/sobjects/Event/00U2d000RmGG2cxEID") == (
        "/services/data/{version}/sobjects/Event/{id}"
    )
    # A record id where an sObject name would be is not taken for a name.
    assert salesforce_route("https://x/services/data/v60.0/sobjects/a015g00000XyZabAAF") == (
        "/services/data/{version}/sobjects/{id}"
    )
