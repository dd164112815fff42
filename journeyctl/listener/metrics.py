"""`GET /metrics`: Prometheus text format through prometheus-client.

Request counts and latencies are the listener's own; the delivery figures are read from the
database at each scrape, so they are right whether `serve` ticks or cron runs `run`:
ticks, delivered, failed (totals over the runs table), retrying and due backlog (now), and
the delivery lag of the latest deliveries. The same SQL on SQLite and PostgreSQL
(store.open.reading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from journeyctl.store.open import reading
from journeyctl.store.serialize import to_micros


class StoreCollector(Collector):
    def __init__(self, db: str | Path, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        # A read-only connection of its own: a scrape never waits for the writer.
        with reading(self.db) as conn:
            q = conn.execute
            ticks, delivered, failed, last = q(
                "SELECT count(*), coalesce(sum(delivered), 0), coalesce(sum(failed), 0), "
                "max(finished_at) FROM runs WHERE dry_run = 0"
            ).fetchone()
            now = to_micros(self.clock())
            retrying = q("SELECT count(*) FROM ledger WHERE state = 'retry'").fetchone()[0]
            due = q(
                "SELECT count(*) FROM contact_state WHERE next_due IS NOT NULL AND next_due <= ?",
                (now,),
            ).fetchone()[0]
            due += q(
                "SELECT count(*) FROM ledger WHERE state IN ('planned', 'retry') "
                "AND next_attempt_at <= ?",
                (now,),
            ).fetchone()[0]
            lag = q(
                "SELECT max(delivered_at - at) FROM (SELECT delivered_at, at FROM ledger "
                "WHERE delivered_at IS NOT NULL ORDER BY id DESC LIMIT 1000) AS recent"
            ).fetchone()[0]
        # int(): PostgreSQL sums integers as numeric (Decimal).
        ticks, delivered, failed = int(ticks), int(delivered), int(failed)
        yield CounterMetricFamily("journeyctl_ticks", "Ticks recorded (run and serve)", ticks)
        yield CounterMetricFamily("journeyctl_delivered", "Messages delivered", delivered)
        yield CounterMetricFamily("journeyctl_failed", "Deliveries failed for good", failed)
        yield GaugeMetricFamily("journeyctl_retrying", "Deliveries waiting to retry", retrying)
        yield GaugeMetricFamily(
            "journeyctl_due_backlog", "Contacts and deliveries due now, not yet done", due
        )
        yield GaugeMetricFamily(
            "journeyctl_delivery_lag_seconds",
            "Largest lag between a message's time and its delivery, latest 1000 deliveries",
            (lag or 0) / 1e6,
        )
        if last is not None:
            yield GaugeMetricFamily(
                "journeyctl_last_tick_age_seconds", "Seconds since the last tick finished",
                max(0, now - last) / 1e6,
            )  # fmt: skip


class Metrics:
    def __init__(self, db: str | Path, clock: Callable[[], datetime]) -> None:
        disable_created_metrics()  # no `_created` series beside every counter
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "journeyctl_listener_requests",
            "Listener requests by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "journeyctl_listener_request_seconds",
            "Listener request latency by endpoint",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.recorded = Counter(
            "journeyctl_listener_events",
            "Events the listener recorded, by event",
            ["event"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(db, clock))
