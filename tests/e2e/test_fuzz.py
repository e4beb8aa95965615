"""Generated GraphQL operations against the live server (hypothesis-graphql).

Over 2,000 queries and mutations built from the served schema, with valid tokens and with IDs
that mostly point at real sessions, packages, deliverers and users, so that the mutations
reach the domain. Whatever the input, the server must answer without a 5xx, without leaking
internals (tracebacks, SQL, driver names) and, per the contract, with `errors` only for
malformed requests: an execution error (one with a `path`) must carry an extensions.code.

Every problem is collected (no shrinking, which would cost thousands of requests) and the
distinct kinds are reported together at the end.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
import hypothesis_graphql._strategies.sampler
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes
from hypothesis_graphql import strategies as gql_st

from gql.schema import build_schema
from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.conftest import Caller

# Documents with one root field, every field equally likely, are several times cheaper to
# generate than documents with many; some of those are sent too. 2,050 operations in all.
PLAN = {
    "one query field": 700,
    "many query fields": 200,
    "one mutation field": 800,
    "many mutation fields": 100,
    "invalid (negative mode)": 250,
}

LEAKS = (
    "Traceback",
    'File "/',
    "sqlalchemy",
    "sqlalche.me",
    "asyncpg",
    "psycopg",
    "[SQL:",
    "<class '",
    "Background on this error",
    "object has no attribute",
    "NoneType",
)
EXPECTED_CODES = {"BAD_USER_INPUT", "UNAUTHENTICATED"}


@dataclass
class Findings:
    sent: int = 0
    # Got past validation and ran: data came back, or a resolver refused an argument (an error
    # with a path: a random cursor or page size makes a non-null connection's data null).
    executed: int = 0
    unauthenticated: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, doc: str) -> None:
        examples = self.problems.setdefault(kind, [])
        if len(examples) < 2:
            examples.append(doc[:600])

    def report(self) -> str:
        lines = [f"{len(self.problems)} kinds of problems in {self.sent} operations:"]
        for kind, docs in sorted(self.problems.items()):
            lines.append(f"- {kind}\n    e.g. {docs[0]!r}")
        return "\n".join(lines)


def _root_field(doc: str) -> str:
    try:
        op = graphql.parse(doc).definitions[0]
        sel = op.selection_set.selections[0]  # type: ignore[attr-defined]
        return str(sel.name.value)
    except Exception:
        return "?"


def inspect(findings: Findings, doc: str, response: httpx.Response) -> None:
    findings.sent += 1
    root = _root_field(doc)
    if response.status_code >= 500:
        findings.add(f"HTTP {response.status_code} on {root}", doc)
        return
    try:
        body = response.json()
    except json.JSONDecodeError:
        findings.add(f"non-JSON answer (HTTP {response.status_code}) on {root}", doc)
        return
    if not isinstance(body, dict) or not ({"data", "errors"} & set(body)):
        findings.add(f"not a GraphQL response on {root}", doc)
        return
    if body.get("data") is not None or any(e.get("path") for e in body.get("errors") or []):
        findings.executed += 1
    for error in body.get("errors") or []:
        message = str(error.get("message", ""))
        path = error.get("path") or []
        where = str(path[0]) if path else root  # the field that failed, if it ran
        text = json.dumps(error)
        for leak in LEAKS:
            if leak in text:
                findings.add(f"{where}: error leaks {leak!r}: {message[:160]}", doc)
                break
        code = (error.get("extensions") or {}).get("code")
        findings.unauthenticated += code == "UNAUTHENTICATED"
        if error.get("path") and code not in EXPECTED_CODES:
            findings.add(f"{where}: unexpected execution error: {message[:160]}", doc)


def decimals() -> st.SearchStrategy[graphql.ValueNode]:
    text = st.one_of(
        st.decimals(min_value=0, max_value=10**6, places=2).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["-0", "1e400", "0.001", "-1", "", "abc", "1" + "0" * 30 + ".000"]),
        st.text(max_size=12),
    )
    return st.one_of(
        text.map(nodes.String),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
    )


def ids(known: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known),
        st.uuids().map(str),
        st.text(alphabet=string.printable, max_size=12),
    ).map(nodes.String)


@dataclass
class Target:
    ids: list[str]
    tokens: list[str]


async def _target(make_user: Callable[..., Any]) -> Target:
    """Sessions in several states, with packages, addresses and deliverers, for the IDs."""
    admin: Caller = await make_user("ADMIN")
    manager: Caller = await make_user("MANAGER")
    couriers: list[Caller] = [await make_user("DELIVERER") for _ in range(2)]
    known = [admin.id, manager.id, *(c.id for c in couriers)]
    for status in ("OPEN", "ACTIVE", "PAUSED", "COMPLETED"):
        sid = manager(q.CREATE_SESSION, name=f"Fuzz {status}")["createSession"]["session"]["id"]
        known.append(sid)
        did = manager(q.ADD_DELIVERER, sid=sid, uid=couriers[0].id, base="10.00", commission="1")
        known.append(did["addDeliverer"]["deliverer"]["id"])
        added = manager(
            q.ADD_PACKAGES,
            sid=sid,
            packages=[
                {"barcode": f"FZ-{status}-{i}", "address": {"line": f"Rua {i}"}} for i in range(4)
            ],
        )["addPackages"]["added"]
        known += [p["id"] for p in added] + [p["address"]["id"] for p in added]
        steps = {"OPEN": [], "ACTIVE": ["startSession"], "PAUSED": ["startSession", "pauseSession"]}
        for step in steps.get(status, ["startSession"]):
            manager(q.session_action(step), sid=sid)
        if status == "COMPLETED":
            manager(q.COMPLETE, sid=sid, force=True)
    tokens = [admin.token, admin.token, manager.token, couriers[0].token]
    return Target(known, tokens)


def _run(
    client: httpx.Client,
    findings: Findings,
    strategy: st.SearchStrategy[str],
    tokens: list[str],
    examples: int,
) -> None:
    """Generates in this thread while a small pool sends: the two overlap."""
    pending: list[tuple[str, Future[httpx.Response]]] = []

    def post(doc: str, token: str) -> httpx.Response:
        return client.post(
            "/graphql", json={"query": doc}, headers={"authorization": f"Bearer {token}"}
        )

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(doc=strategy, token=st.sampled_from(tokens))
    def send(doc: str, token: str) -> None:
        pending.append((doc, pool.submit(post, doc, token)))

    with ThreadPoolExecutor(max_workers=3) as pool:
        send()
        for doc, future in pending:
            inspect(findings, doc, future.result())


@pytest.mark.timeout(900)  # about a minute on an idle 2-core machine; generous when shared
async def test_generated_operations_never_break_the_server(
    live_server: LiveServer, make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Smaller documents than the generator's defaults (depth 8, 60 fields): several times
    # faster to generate, still far deeper than the contract's nesting needs.
    monkeypatch.setattr(hypothesis_graphql._strategies.sampler, "MAX_DEPTH", 5)
    monkeypatch.setattr(hypothesis_graphql._strategies.sampler, "MAX_FIELDS", 25)
    target = await _target(make_user)
    schema = graphql.build_schema(str(build_schema()))
    assert schema.query_type is not None and schema.mutation_type is not None
    scalars = {"ID": ids(target.ids), "Decimal": decimals(), "Upload": st.just(nodes.Null)}

    def each(make: Callable[..., st.SearchStrategy[str]], names: Any) -> st.SearchStrategy[str]:
        return st.one_of(*(make(schema, fields=[n], custom_scalars=scalars) for n in names))

    strategies = {
        "one query field": each(gql_st.queries, schema.query_type.fields),
        "many query fields": gql_st.queries(schema, custom_scalars=scalars),
        "one mutation field": each(gql_st.mutations, schema.mutation_type.fields),
        "many mutation fields": gql_st.mutations(schema, custom_scalars=scalars),
        "invalid (negative mode)": gql_st.from_schema(
            schema, custom_scalars=scalars, mode=Mode.NEGATIVE
        ),
    }
    findings = Findings()
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for name, examples in PLAN.items():
            _run(client, findings, strategies[name], target.tokens, examples)
        health = client.get("/healthz")
    assert health.status_code == 200, "the server survived"
    assert findings.sent == sum(PLAN.values()) >= 2000
    assert findings.unauthenticated == 0, "every token is valid: the operations really ran"
    positive = findings.sent - PLAN["invalid (negative mode)"]
    assert findings.executed >= positive * 0.8, (findings.executed, positive)
    assert not findings.problems, findings.report()


NUL_INPUTS: dict[str, tuple[str, dict[str, Any]]] = {
    "createSession": (q.CREATE_SESSION, {"name": "Manhã\x00"}),
    "createUser": (q.CREATE_USER, {"name": "Ana\x00", "role": "DELIVERER"}),
    "addPackages:recipientName": (
        q.ADD_PACKAGES,
        {"packages": [{"barcode": "NUL-1", "recipientName": "Maria\x00"}]},
    ),
    "addPackages:address": (
        q.ADD_PACKAGES,
        {"packages": [{"barcode": "NUL-2", "address": {"line": "Rua\x00 A", "city": "S\x00P"}}]},
    ),
}


@pytest.mark.parametrize("case", sorted(NUL_INPUTS))
async def test_text_with_a_nul_character_is_a_validation_error(
    make_user: Callable[..., Any], case: str
) -> None:
    """PostgreSQL text cannot hold U+0000. Such input is the client's mistake: either a
    ValidationError (data) or the whole request refused as malformed (code BAD_USER_INPUT),
    never a database error, and nothing is written."""
    manager: Caller = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="NUL")["createSession"]["session"]["id"]
    doc, variables = NUL_INPUTS[case]
    body = manager.raw(doc, {"sid": sid, **variables})
    if "errors" in body:
        assert body["data"] is None, body
        codes = {(e.get("extensions") or {}).get("code") for e in body["errors"]}
        assert codes == {"BAD_USER_INPUT"}, body["errors"]
        assert "NUL" in body["errors"][0]["message"]
    else:
        result = next(iter(body["data"].values()))
        assert result["__typename"] == "ValidationError", result
    after = manager(q.SESSION, id=sid)["session"]
    assert after["progress"]["total"] == 0 and after["lastSequence"] == 1


async def test_odd_amounts_are_answered_as_data(make_user: Callable[..., Any]) -> None:
    """Amounts the Decimal scalar lets through must end in a result or a ValidationError."""
    manager: Caller = await make_user("MANAGER")
    couriers: list[Caller] = [await make_user("DELIVERER") for _ in range(2)]
    sid = manager(q.CREATE_SESSION, name="Valores")["createSession"]["session"]["id"]

    huge = manager.raw(
        q.ADD_DELIVERER,
        {"sid": sid, "uid": couriers[0].id, "base": "1" + "0" * 30 + ".000", "commission": "1"},
    )
    assert "errors" not in huge, huge["errors"]
    assert huge["data"]["addDeliverer"]["__typename"] == "ValidationError"
    assert huge["data"]["addDeliverer"]["field"] == "baseSalary"

    zero = manager(q.ADD_DELIVERER, sid=sid, uid=couriers[1].id, base="-0", commission="-0.00")[
        "addDeliverer"
    ]
    assert zero["__typename"] == "AddDelivererSuccess"
    assert zero["deliverer"]["baseSalary"] == zero["deliverer"]["commissionPerDelivery"] == "0.00"
    audit = manager(q.SESSION, id=sid)["session"]["audit"]["edges"]
    (added,) = [e["node"] for e in audit if e["node"]["action"] == "deliverer.added"]
    # The audit log is immutable: it must hold the amounts as stored, not "-0.00".
    assert added["details"]["baseSalary"] == "0.00"
    assert added["details"]["commissionPerDelivery"] == "0.00"
