"""The live server over real HTTP: health, GraphQL, authentication, limits, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

from tests.conftest import LiveServer


def _create_user(database_url: str, role: str = "ADMIN") -> dict[str, str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bipa.cli",
            "users",
            "create",
            "--name",
            f"Smoke {role}",
            "--role",
            role,
            "--json",
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


def test_healthz_checks_the_database(live_server: LiveServer) -> None:
    r = httpx.get(live_server.url + "/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def test_typename_over_http(live_server: LiveServer) -> None:
    r = httpx.post(live_server.url + "/graphql", json={"query": "{ __typename }"})
    assert r.json() == {"data": {"__typename": "Query"}}
    assert r.headers["x-request-id"]


def test_missing_and_bad_tokens_are_unauthenticated(live_server: LiveServer) -> None:
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic abc"}):
        r = httpx.post(
            live_server.url + "/graphql", json={"query": "{ me { id } }"}, headers=headers
        )
        body = r.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_me_and_json_logs_without_tokens(live_server: LiveServer, database_url: str) -> None:
    user = _create_user(database_url)
    r = httpx.post(
        live_server.url + "/graphql",
        json={"query": "query Who { me { id name role createdAt } }", "operationName": "Who"},
        headers={"authorization": f"Bearer {user['token']}", "x-request-id": "smoke-req-1"},
    )
    me = r.json()["data"]["me"]
    assert me["id"] == user["id"] and me["role"] == "ADMIN"
    assert me["createdAt"].endswith("+00:00")
    # The request line is written after the response is sent: give the server a moment.
    mine: list[dict] = []
    deadline = time.monotonic() + 10
    while not mine and time.monotonic() < deadline:
        log = live_server.log_text()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        mine = [
            entry
            for entry in lines
            if entry.get("request_id") == "smoke-req-1" and entry["msg"] == "request"
        ]
        if not mine:
            time.sleep(0.1)
    assert user["token"] not in log
    assert mine, "no request log line"
    assert mine[0]["operation"] == "Who"
    assert mine[0]["caller_id"] == user["id"]
    assert mine[0]["duration_ms"] >= 0


def test_request_body_limit(live_server: LiveServer) -> None:
    big = "{ __typename }" + " " * 1_100_000
    r = httpx.post(live_server.url + "/graphql", json={"query": big})
    assert r.status_code == 413


def test_graphiql_in_development(live_server: LiveServer) -> None:
    r = httpx.get(live_server.url + "/graphql", headers={"accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()
