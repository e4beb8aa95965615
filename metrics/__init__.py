"""Prometheus metrics of one process: what an operator watches. Imports nothing of ours.

Instruments are module-level (one registry per process, as Prometheus expects); the
composition root sets the gauges that are read at scrape time (pool, queues, backlog).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "bipa_http_requests",
    "HTTP requests by GraphQL operation (or path) and status.",
    ["operation", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "bipa_http_request_seconds",
    "HTTP request latency by GraphQL operation (or path).",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ERRORS = Counter(
    "bipa_graphql_errors", "GraphQL errors by extensions.code.", ["code"], registry=REGISTRY
)
RATE_LIMITED = Counter(
    "bipa_rate_limited",
    "Requests, connects and authentications refused by a rate limit, by limit.",
    ["limit"],
    registry=REGISTRY,
)
WEBSOCKETS = Gauge("bipa_websockets_open", "Open websocket connections.", registry=REGISTRY)
SUBSCRIPTIONS = Gauge(
    "bipa_subscriptions_open", "Subscriptions held by open websockets.", registry=REGISTRY
)
SCAN_QUEUE = Gauge(
    "bipa_scan_queue_depth",
    "Photos being decoded or waiting for a scanner thread.",
    registry=REGISTRY,
)
SCAN_SECONDS = Histogram(
    "bipa_scan_seconds",
    "Time to decode one photo.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0),
    registry=REGISTRY,
)
WEBHOOK_BACKLOG = Gauge(
    "bipa_webhook_outbox_pending", "Webhook deliveries waiting to be sent.", registry=REGISTRY
)
JOB_QUEUE = Gauge(
    "bipa_jobs_active",
    "Background jobs QUEUED (the queue's depth) or RUNNING.",
    ["status"],
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "bipa_webhook_attempts",
    "Webhook delivery attempts by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
# Set at scrape time from the hub's own count (live/ imports nothing of this).
PUBSUB_RECONNECTS = Gauge(
    "bipa_pubsub_reconnects",
    "Reconnections of the pub/sub backend since start.",
    registry=REGISTRY,
)
POOL_IN_USE = Gauge(
    "bipa_db_pool_in_use", "Database connections checked out of the pool.", registry=REGISTRY
)
POOL_SIZE = Gauge(
    "bipa_db_pool_size", "Connections the pool may hold (size plus overflow).", registry=REGISTRY
)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
