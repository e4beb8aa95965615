"""Text with NUL characters is refused as a malformed request before anything runs."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


async def test_nul_in_variables_and_literals_is_refused(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    headers = {"authorization": f"Bearer {manager.token}"}
    mutation = "mutation($n: String!) { createSession(input: {name: $n}) { __typename } }"
    for body in (
        {"query": mutation, "variables": {"n": "a\x00b"}},
        {"query": 'mutation { createSession(input: {name: "a\\u0000b"}) { __typename } }'},
        {
            "query": 'mutation { updateWebhook(input: {webhookId: "00000000-0000-0000-0000-000000000000", url: "https://x\\u0000"}) { __typename } }'
        },
    ):
        r = httpx.post(live_server.url + "/graphql", json=body, headers=headers)
        assert r.status_code == 200
        payload = r.json()
        assert payload["data"] is None
        assert payload["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    sessions = httpx.post(
        live_server.url + "/graphql", json={"query": "{ sessions { totalCount } }"}, headers=headers
    ).json()
    assert sessions["data"]["sessions"]["totalCount"] == 0
