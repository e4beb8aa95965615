"""GraphQL over HTTP: graphql-http's own server audits against the live server, and the
media type negotiation they check (application/graphql-response+json and its status codes).

The audits are graphql-http 1.23.1's `auditServer` (npm, MIT), vendored as its UMD build in
tests/e2e/graphql_http/ and run by Node, exactly as `npx graphql-http`'s users run them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.e2e

AUDITS = Path(__file__).resolve().parent / "graphql_http" / "run-audits.cjs"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def test_every_graphql_http_audit_passes(live_server: LiveServer) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is needed to run graphql-http's audits")
    run = subprocess.run(
        [node, str(AUDITS), live_server.url + "/graphql"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert len(results) >= 60  # MUST and SHOULD audits of graphql-http 1.23
    failed = [
        f"{r['id']} {r['status']}: {r['name']} ({r['reason']})"
        for r in results
        if r["status"] != "ok"
    ]
    assert failed == [], "\n".join(failed)


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


def _post(client: httpx.Client, body: dict[str, object], accept: str | None) -> httpx.Response:
    headers = {"accept": accept} if accept else {}
    return client.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {
                "query": "query($n: Int!) { sessions(first: $n) { totalCount } }",
                "variables": {"n": "many"},
            },
            "BAD_USER_INPUT",
        ),
        ({"query": "{" * 40 + "}" * 40}, None),  # bounds or syntax: refused, coded
    ],
)
def test_request_errors_are_400_with_the_new_media_type_and_200_with_json(
    client: httpx.Client, body: dict[str, object], code: str | None
) -> None:
    new = _post(client, body, f"{GRAPHQL_RESPONSE}, application/json;q=0.9")
    assert new.status_code == 400, new.text
    assert new.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    answer = new.json()
    assert "data" not in answer  # never executed
    assert all(e["extensions"]["code"] for e in answer["errors"])
    if code:
        assert answer["errors"][0]["extensions"]["code"] == code
    for accept in ("application/json", None, "*/*"):
        legacy = _post(client, body, accept)
        assert legacy.status_code == 200, (accept, legacy.text)
        assert legacy.headers["content-type"].startswith("application/json")
        assert legacy.json()["data"] is None


def test_a_field_error_is_200_with_data_under_either_media_type(client: httpx.Client) -> None:
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        r = _post(client, {"query": "{ me { name } }"}, accept)
        assert r.status_code == 200
        body = r.json()
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert body["errors"][0]["path"] == ["me"]


def test_methods_and_content_types_refused_with_codes(client: httpx.Client) -> None:
    put = client.put("/graphql", json={"query": "{ __typename }"})
    assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
    assert put.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    text = client.post(
        "/graphql", content=b"{ __typename }", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    assert text.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    refused = client.post(
        "/graphql",
        content=b"[1]",
        headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith(GRAPHQL_RESPONSE)
