"""GraphQL over HTTP conventions: CORS for allowed origins, queries over GET, mutations not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.e2e

FRONT = "http://front.example"


@pytest.fixture(scope="module")
def cors_server(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(
        database_url, {"BIPA_RUN_WORKER": "false", "BIPA_ALLOWED_ORIGINS": FRONT}
    ).start()
    yield server
    server.stop()


async def test_cors_for_allowed_origins_on_http(
    cors_server: LiveServer, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    with httpx.Client(base_url=cors_server.url, timeout=30) as client:
        preflight = client.options(
            "/graphql",
            headers={
                "origin": FRONT,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == FRONT
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert "access-control-allow-credentials" not in preflight.headers
        answer = client.post(
            "/graphql",
            json={"query": "{ me { name } }"},
            headers={"origin": FRONT, "authorization": f"Bearer {manager.token}"},
        )
        assert answer.json()["data"]["me"]["name"] == manager.name
        assert answer.headers["access-control-allow-origin"] == FRONT
        other = client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": "http://evil.example"},
        )
        assert "access-control-allow-origin" not in other.headers
        refused = client.options(
            "/graphql",
            headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
        )
        assert refused.status_code == 400


async def test_queries_over_get_and_mutations_refused_with_405(
    cors_server: LiveServer, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    auth = {"authorization": f"Bearer {manager.token}"}
    with httpx.Client(base_url=cors_server.url, timeout=30) as client:
        got = client.get("/graphql", params={"query": "{ me { role } }"}, headers=auth)
        assert got.status_code == 200 and got.json()["data"]["me"]["role"] == "MANAGER"
        before = client.post(
            "/graphql", json={"query": "{ sessions(first: 1) { totalCount } }"}, headers=auth
        ).json()["data"]["sessions"]["totalCount"]
        mutation = 'mutation { createSession(input: {name: "Via GET"}) { __typename } }'
        refused = client.get("/graphql", params={"query": mutation}, headers=auth)
        assert refused.status_code == 405 and refused.headers["allow"] == "POST"
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        after = client.post(
            "/graphql", json={"query": "{ sessions(first: 1) { totalCount } }"}, headers=auth
        ).json()["data"]["sessions"]["totalCount"]
        assert after == before, "the mutation ran"
