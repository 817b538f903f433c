"""Each process's share of a mailbox's 4 concurrent requests ([graph] in the daemon file).

Outlook allows 4 concurrent requests per app and mailbox, shared by every process of
the app (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits):
the sync's share plus every API process's share may not add up to more.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from syncd.config import ConfigError, GraphTuning, load_config
from syncd.runtime import build_runtime
from tests.support import write_test_config


def test_the_default_shares_add_up_to_the_mailbox_limit() -> None:
    tuning = GraphTuning()
    assert tuning.max_in_flight_per_mailbox == 4
    assert tuning.in_flight_for("daemon") == 3
    assert tuning.in_flight_for("api") == 1
    assert tuning.in_flight_for("daemon+api") == 4
    used = tuning.daemon_in_flight_per_mailbox
    used += tuning.api_processes * tuning.api_in_flight_per_mailbox
    assert used <= tuning.max_in_flight_per_mailbox


@pytest.mark.parametrize(
    "shares",
    [
        {"daemon_in_flight_per_mailbox": 4},  # 4 + 1 x 1
        {"api_processes": 2, "daemon_in_flight_per_mailbox": 3},  # 3 + 2 x 1
        {"api_processes": 2, "api_in_flight_per_mailbox": 2, "daemon_in_flight_per_mailbox": 1},
        {"max_in_flight_per_mailbox": 2},  # 3 + 1 x 1 > 2
    ],
)
def test_shares_over_the_limit_are_refused_with_the_reason(shares: dict[str, int]) -> None:
    with pytest.raises(ValidationError) as caught:
        GraphTuning(**shares)
    message = str(caught.value)
    assert "max_in_flight_per_mailbox" in message
    assert "throttling-limits#outlook-service-limits" in message


@pytest.mark.parametrize(
    "shares",
    [
        {"api_processes": 0, "daemon_in_flight_per_mailbox": 4},  # the daemon alone
        {"api_processes": 3, "daemon_in_flight_per_mailbox": 1},  # 1 + 3 x 1
        {"api_processes": 1, "api_in_flight_per_mailbox": 2, "daemon_in_flight_per_mailbox": 2},
    ],
)
def test_shares_within_the_limit_are_taken(shares: dict[str, int]) -> None:
    GraphTuning(**shares)


def test_an_api_process_that_is_not_counted_does_not_start(tmp_path: Path) -> None:
    path = write_test_config(tmp_path)
    with path.open("a") as config:
        config.write("[graph]\napi_processes = 0\ndaemon_in_flight_per_mailbox = 4\n")
    loaded = load_config(path)

    with pytest.raises(ConfigError, match="api_processes is 0"):
        build_runtime(loaded, role="api")
    with pytest.raises(ConfigError, match="api_processes is 0"):
        build_runtime(loaded, role="daemon+api")
