"""The service's Prometheus metrics (prometheus-client), one registry per process.

Names and labels are what deploy/prometheus/alerts.yml and the Grafana dashboard use; the
list with meanings is in docs/OPERATIONS.md."""

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ...application.errors import CreditsDeclined, DependencyUnavailable
from ...application.ports import CreditAccount, CreditGateway, Debit, Refund
from ..database.tables import outbox

T = TypeVar("T")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
ROUND_TRIP_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.http_duration = Histogram(
            "aigen_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.shed = Counter(
            "aigen_http_requests_shed_total",
            "Requests answered 503 overloaded at the door, by kind (new_work, user)",
            ["kind"],
            registry=r,
        )
        self.created = Counter(
            "aigen_generation_requests_created_total",
            "Generation requests accepted, by format and subscription tier",
            ["format", "tier"],
            registry=r,
        )
        self.transitions = Counter(
            "aigen_status_transitions_total",
            "Status moves of generation requests",
            ["from_status", "to_status"],
            registry=r,
        )
        self.callbacks = Counter(
            "aigen_n8n_callbacks_total",
            "n8n callbacks by kind (samples, final, error) and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.round_trip = Histogram(
            "aigen_job_round_trip_seconds",
            "From a job's dispatch to its result (NFR-001: samples P90 < 30 s, final < 120 s)",
            ["job_type"],
            buckets=ROUND_TRIP_BUCKETS,
            registry=r,
        )
        self.outbox_pending = Gauge(
            "aigen_outbox_pending", "Undelivered outbox rows", ["destination"], registry=r
        )
        self.outbox_oldest = Gauge(
            "aigen_outbox_oldest_age_seconds",
            "Age of the oldest undelivered outbox row",
            ["destination"],
            registry=r,
        )
        self.admin_actions = Counter(
            "aigen_admin_actions_total",
            "Actions taken through the admin routes or `aigen admin` (refund, fail, redrive, ...)",
            ["action"],
            registry=r,
        )
        self.dead_letter_jobs = Gauge(
            "aigen_dead_letter_jobs",
            "Jobs in RabbitMQ's dead-letter queue (their delivery limit ran out), read at scrape",
            registry=r,
        )
        self.outbox_dead = Gauge(
            "aigen_outbox_dead", "Outbox rows given up on", ["destination"], registry=r
        )
        self.credit_calls = Counter(
            "aigen_credit_calls_total",
            "Calls to the credit backend by operation and outcome",
            ["operation", "outcome"],
            registry=r,
        )
        self.credit_latency = Histogram(
            "aigen_credit_call_duration_seconds",
            "Latency of calls to the credit backend",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    # --- the application's Metrics port ------------------------------------------------------

    def request_created(self, format_name: str, tier: str) -> None:
        self.created.labels(format_name, tier).inc()

    def status_changed(self, old: str | None, new: str) -> None:
        self.transitions.labels(old or "none", new).inc()

    def job_round_trip(self, job_type: str, seconds: float) -> None:
        self.round_trip.labels(job_type).observe(seconds)

    def admin_action(self, action: str) -> None:
        self.admin_actions.labels(action).inc()

    # --- recorded by adapters ----------------------------------------------------------------

    def callback(self, kind: str, outcome: str) -> None:
        self.callbacks.labels(kind, outcome).inc()

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_duration.labels(method, route, str(status)).observe(seconds)

    def http_shed(self, kind: str) -> None:
        self.shed.labels(kind).inc()

    async def refresh_outbox(self, engine: AsyncEngine, now: datetime) -> None:
        """Outbox depth and age, read at scrape time (one grouped query)."""
        pending = outbox.c.delivered_at.is_(None)
        query = (
            select(
                outbox.c.destination,
                func.count().filter(outbox.c.dead_at.is_(None)),
                func.min(outbox.c.created_at).filter(outbox.c.dead_at.is_(None)),
                func.count().filter(outbox.c.dead_at.is_not(None)),
            )
            .where(pending)
            .group_by(outbox.c.destination)
        )
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        self.outbox_pending.clear()
        self.outbox_oldest.clear()
        self.outbox_dead.clear()
        for destination, count, oldest, dead in rows:
            self.outbox_pending.labels(destination).set(count)
            age = (now - _aware(oldest)).total_seconds() if oldest else 0.0
            self.outbox_oldest.labels(destination).set(max(0.0, age))
            self.outbox_dead.labels(destination).set(dead)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class InstrumentedCreditGateway:
    """Counts and times every call to the real credit backend, by outcome."""

    def __init__(self, inner: CreditGateway, metrics: PrometheusMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def get_account(self, user_id: str) -> CreditAccount:
        return await self._timed("get_account", lambda: self._inner.get_account(user_id))

    async def debit(self, debit: Debit) -> None:
        await self._timed("debit", lambda: self._inner.debit(debit))

    async def refund(self, refund: Refund) -> None:
        await self._timed("refund", lambda: self._inner.refund(refund))

    async def _timed(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await call()
        except CreditsDeclined:
            outcome = "declined"
            raise
        except DependencyUnavailable:
            outcome = "unavailable"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            self._metrics.credit_calls.labels(operation, outcome).inc()
            self._metrics.credit_latency.labels(operation).observe(time.perf_counter() - started)
