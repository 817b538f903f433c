"""The daemon's own /metrics endpoint (prometheus_client's HTTP server), for
`syncd run` without the Scheduler API; with the API, /metrics is the API's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from prometheus_client import start_http_server

from syncd.config import ConfigError, MetricsServerConfig
from syncd.metrics import registry

log = logging.getLogger(__name__)


@dataclass
class MetricsServer:
    """A running metrics server; `stop()` closes its socket."""

    server: Any
    thread: Any
    port: int

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve_metrics(settings: MetricsServerConfig) -> MetricsServer | None:
    """Serve the metrics on `settings.bind`:`settings.port` in a background thread;
    None when the port is 0 (off)."""
    if settings.port == 0:
        return None
    try:
        server, thread = start_http_server(settings.port, addr=settings.bind, registry=registry())
    except OSError as error:
        raise ConfigError(
            f"the metrics could not be served on {settings.bind}:{settings.port}: "
            f"{error.strerror or error}; set [metrics] port to a free port, or 0 to turn "
            "the metrics endpoint off"
        ) from None
    port = int(server.server_address[1])
    log.info("metrics on http://%s:%d/metrics", settings.bind, port)
    return MetricsServer(server, thread, port)
