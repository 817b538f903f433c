"""API latency by route template, over HTTP against a served app: the label is the
route FastAPI matched, never the raw path (which may carry an id)."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from prometheus_client import generate_latest

from syncd.api.app import create_app
from syncd.api.routes.meeting import MEETING_PATH
from syncd.metrics import registry
from syncd.runtime import Runtime
from tests.metrics.scrape import Key, delta, label_values, samples
from tests.support import ThreadedServer, wait_until

RECORD_ID = "00U2d000RmGG2cxEID"
Samples = Mapping[Key, float]


def test_api_latency_is_labelled_by_route_template(runtime: Runtime) -> None:
    server = ThreadedServer(create_app(runtime))
    try:
        before = samples(generate_latest(registry()).decode())
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        unauthorised = requests.get(
            f"{server.url}{MEETING_PATH}", params={"meetingId": RECORD_ID}, timeout=10
        )
        missing = requests.get(f"{server.url}{MEETING_PATH}/{RECORD_ID}", timeout=10)
        expected = [("/healthz", 200), (MEETING_PATH, unauthorised.status_code), ("unmatched", 404)]

        def counted() -> Samples | None:
            # A request is counted once its answer has been sent: the last may come after.
            now = samples(generate_latest(registry()).decode())
            return now if all(count(before, now, *each) for each in expected) else None

        after = wait_until(counted, "the three requests counted", timeout=10)
    finally:
        server.stop()

    assert [count(before, after, *each) for each in expected] == [1, 1, 1]
    assert missing.status_code == 404
    assert not [v for v in label_values(after) if RECORD_ID in v]


def count(before: Samples, after: Samples, route: str, status: int) -> float:
    return delta(
        before,
        after,
        "syncd_api_request_duration_seconds_count",
        lambda x: x["route"] == route and x["status"] == str(status),
    )
