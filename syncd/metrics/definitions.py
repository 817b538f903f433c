"""The metrics syncd exports: name, type, labels and meaning, in one place.

Names follow https://prometheus.io/docs/practices/naming/ (`syncd_` prefix, base
units, `_total` on counters). Labels are bounded: `service` and `kind` are
fixed words, `route` a template without ids or addresses, `tenant` and `lease`
come from the configuration, `status` is an HTTP status code. The client metrics
carry no tenant: a client's calls run on worker threads that do not all know it.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "syncd_http_requests",
    "HTTP round trips to Microsoft 365 and Salesforce (each attempt; a $batch is one), "
    "by service (graph, identity, salesforce), method, route template and status code",
    ["service", "method", "route", "status"],
)
GRAPH_REQUESTS = Counter(
    "syncd_graph_requests",
    "Microsoft Graph requests: a $batch's inner requests count one each (as Graph's "
    "throttling counts them), by method, route template and status code",
    ["method", "route", "status"],
)
THROTTLED = Counter(
    "syncd_throttled_responses",
    "Answers that refused a request for load: Graph 429 (a $batch's inner ones included), "
    "Salesforce REQUEST_LIMIT_EXCEEDED",
    ["service"],
)
RETRY_WAITS = Counter(
    "syncd_retry_waits",
    "Waits before sending a request again; kind=throttled when the service named the wait "
    "(Graph Retry-After) or refused for its API limit (Salesforce), kind=backoff otherwise",
    ["service", "kind"],
)
RETRY_WAIT_SECONDS = Counter(
    "syncd_retry_wait_seconds",
    "Seconds spent in the waits of syncd_retry_waits_total",
    ["service", "kind"],
)
SYNC_RECORDS = Counter(
    "syncd_sync_records",
    "Salesforce Events a sync pass handled, by action (create, update, cancel, skip, fail)",
    ["tenant", "action"],
)
JOB_RUNS = Counter(
    "syncd_job_runs",
    "Runs of a tenant's jobs (poll, responses, availability, retry-failed, resume, "
    "reconcile), by result (ok, error)",
    ["tenant", "job", "result"],
)
SYNC_LAG = Histogram(
    "syncd_sync_lag_seconds",
    "Seconds from a Salesforce change (the Event's SystemModstamp) to its Outlook write",
    ["tenant"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400),
)
API_LATENCY = Histogram(
    "syncd_api_request_duration_seconds",
    "Scheduler API requests: seconds from the request to the end of the response, "
    "by method, route template and status code",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

#: Gauges read at scrape time (custom collectors, `syncd.metrics.collectors`).
BACKLOG = "syncd_sync_backlog_records"
FAILED = "syncd_failed_records"
MEETINGS = "syncd_meetings"
LEASE_HELD = "syncd_lease_held"
