"""Gauges computed at scrape time: the ledger's backlog and failures per tenant, and
the leases this process holds. Reading them when Prometheus asks keeps them true
however the ledger changed (another replica, `syncd reconcile`, the API)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from syncd.domain import MeetingStatus
from syncd.ledger import backlog
from syncd.ledger.lease import Leases
from syncd.metrics import definitions as m
from syncd.metrics import registry

log = logging.getLogger(__name__)


class LedgerCollector(Collector):
    """Backlog, failed records and meetings by status of the configured tenants."""

    def __init__(self, engine: Engine, tenants: Sequence[str]) -> None:
        self._engine = engine
        self._tenants = list(tenants)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            waiting = backlog.backlog_by_tenant(self._engine)
            failed = backlog.failed_by_tenant(self._engine)
            by_status = backlog.meetings_by_status(self._engine)
        except SQLAlchemyError as error:
            # A scrape must not fail whole because the store is away; the gauges are absent.
            log.warning("metrics: the state store could not be read: %s", type(error).__name__)
            return
        backlog_family = GaugeMetricFamily(
            m.BACKLOG,
            "Salesforce records not yet synced: pending, failed, or synced with a failed update",
            labels=["tenant"],
        )
        failed_family = GaugeMetricFamily(
            m.FAILED, "Live meetings whose last attempt failed (any source)", labels=["tenant"]
        )
        meetings_family = GaugeMetricFamily(
            m.MEETINGS, "Meetings in the ledger by status", labels=["tenant", "status"]
        )
        for tenant in self._tenants:
            backlog_family.add_metric([tenant], waiting.get(tenant, 0))
            failed_family.add_metric([tenant], failed.get(tenant, 0))
            for status in MeetingStatus:
                meetings_family.add_metric(
                    [tenant, status.value], by_status.get((tenant, status.value), 0)
                )
        yield from (backlog_family, failed_family, meetings_family)


class LeaseCollector(Collector):
    """1 for each lease (tenant, or tenant/shard) this process holds, 0 for the others."""

    def __init__(self, leases: Leases, names: Iterable[str]) -> None:
        self._leases = leases
        self._names = list(names)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            m.LEASE_HELD,
            "1 when this process holds the lease (a tenant's, or a shard's) and runs its jobs",
            labels=["lease"],
        )
        for name in self._names:
            family.add_metric([name], 1 if self._leases.holds(name) else 0)
        yield family


_installed: dict[str, Collector] = {}
_lock = threading.Lock()


def install(kind: str, collector: Collector, target: CollectorRegistry | None = None) -> None:
    """Register `collector` as the one of its `kind`, replacing an earlier one (a
    process builds its runtime once, tests build several)."""
    target = target or registry()
    with _lock:
        earlier = _installed.pop(kind, None)
        if earlier is not None:
            target.unregister(earlier)
        target.register(collector)
        _installed[kind] = collector


def install_ledger(engine: Engine, tenants: Sequence[str]) -> None:
    """Serve the ledger gauges of `tenants` from `engine`."""
    install("ledger", LedgerCollector(engine, tenants))


def install_leases(leases: Leases, names: Iterable[str]) -> None:
    """Serve the lease gauge of `names` as `leases` sees them."""
    install("leases", LeaseCollector(leases, names))
