"""/metrics: Prometheus text a scraper can parse, with the figures an operator watches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.wsclient import WsClient

pytestmark = pytest.mark.e2e


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    r = httpx.get(url + "/metrics", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_metrics_count_requests_errors_sockets_and_pools(
    live_server: LiveServer, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    before = scrape(live_server.url)
    manager(q.CREATE_SESSION, name="Metrics")
    manager.raw('{ sessions(after: "not-a-cursor") { totalCount } }')
    async with WsClient(live_server.ws_url, manager.token) as ws:
        assert await ws.acked()
        await asyncio.sleep(0.2)
        during = scrape(live_server.url)
    after = scrape(live_server.url)

    def value(m: dict[str, Any], name: str, **labels: str) -> float:
        return m.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    assert value(after, "bipa_http_requests_total", operation="anonymous", status="200") > value(
        before, "bipa_http_requests_total", operation="anonymous", status="200"
    )
    assert (
        value(after, "bipa_graphql_errors_total", code="BAD_USER_INPUT")
        >= value(before, "bipa_graphql_errors_total", code="BAD_USER_INPUT") + 1
    )
    assert value(during, "bipa_websockets_open") >= 1
    assert value(after, "bipa_db_pool_size") == 20
    assert 0 <= value(after, "bipa_db_pool_in_use") <= 20
    assert "bipa_webhook_outbox_pending" in after and "bipa_scan_queue_depth" in after
    assert set(after["bipa_jobs_active"]) == {(("status", "QUEUED"),), (("status", "RUNNING"),)}
    assert "bipa_http_request_seconds_bucket" in after
