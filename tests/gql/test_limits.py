"""Request limits of the live server, and what production mode turns off.

Depth > 12, more than 30 aliases and more than 5,000 tokens are refused before execution;
bodies over 1 MB get a 413. A server started with BIPA_ENV=production refuses
introspection, gives no "Did you mean" suggestions, serves no GraphiQL and masks unexpected
errors, while keeping the text of errors that are the client's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from graphql.language import Lexer, Source, TokenKind
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from domain import users
from domain.uow import UnitOfWork
from tests.conftest import LiveServer, asyncpg_dsn
from tests.e2e.conftest import Caller

pytestmark = pytest.mark.e2e  # these tests start servers

LEAKS = ("Traceback", 'File "/', "sqlalchemy", "asyncpg", "[SQL:", "<class '", "relation")

# ---- helpers ------------------------------------------------------------------------------

# `first: 1`: the depth tests are about depth, not about the node limit (tested below).
CHAIN = ["packages(first: 1)", "edges", "node", "session"]


def nested(depth: int) -> str:
    """A query whose deepest field is at `depth` (root fields are at depth 0)."""
    fields = ['session(id: "00000000-0000-0000-0000-000000000000")']
    while len(fields) < depth:
        fields.append(CHAIN[(len(fields) - 1) % 4])
    leaf = "__typename"
    body = leaf
    for f in reversed(fields):
        body = f"{f} {{ {body} }}"
    return f"{{ {body} }}"


def nested_in_fragments(depth: int) -> str:
    """The same depth, hidden behind one fragment per level."""
    fields = ['session(id: "00000000-0000-0000-0000-000000000000")']
    types = ["DeliverySession"]
    nxt = {
        "packages(first: 1)": "PackageConnection",
        "edges": "PackageEdge",
        "node": "Package",
        "session": "DeliverySession",
    }
    while len(fields) < depth:
        name = CHAIN[(len(fields) - 1) % 4]
        fields.append(name)
        types.append(nxt[name])
    fragments = []
    for i in range(1, len(fields)):
        inner = f"...F{i + 1}" if i + 1 < len(fields) else "__typename"
        fragments.append(f"fragment F{i} on {types[i - 1]} {{ {fields[i]} {{ {inner} }} }}")
    top = "...F1" if len(fields) > 1 else "__typename"
    return f"{{ {fields[0]} {{ {top} }} }}\n" + "\n".join(fragments)


def aliases(n: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(n)) + " }"


def aliases_in_fragments(n: int) -> str:
    half = n // 2
    one = " ".join(f"a{i}: __typename" for i in range(half))
    two = " ".join(f"b{i}: __typename" for i in range(n - half))
    return (
        f"{{ ...One ...Two }} fragment One on Query {{ {one} }} fragment Two on Query {{ {two} }}"
    )


def count_tokens(doc: str) -> int:
    lexer, n = Lexer(Source(doc)), 0
    while lexer.advance().kind != TokenKind.EOF:
        n += 1
    return n


def with_tokens(total: int) -> str:
    """A valid mutation of exactly `total` lexical tokens (a long list of IDs)."""

    def doc(k: int) -> str:
        ids = " ".join(['"00000000-0000-0000-0000-000000000000"'] * k)
        return (
            'mutation { assignPackages(input: {sessionId: "x", '
            f'packageIds: [{ids}], delivererId: "y"}}) {{ __typename }} }}'
        )

    base = count_tokens(doc(0))
    result = doc(total - base)
    assert count_tokens(result) == total
    return result


def post(caller: Caller, doc: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return caller.raw(doc, variables)


def messages(body: dict[str, Any]) -> str:
    return " | ".join(str(e.get("message")) for e in body.get("errors") or [])


def assert_no_leak(body: dict[str, Any]) -> None:
    for error in body.get("errors") or []:
        text = str(error)
        for leak in LEAKS:
            assert leak not in text, f"{leak!r} leaked: {text[:400]}"


async def _admin_on(engine: AsyncEngine, client: httpx.Client) -> Caller:
    async with UnitOfWork(make_sessionmaker(engine)) as uow:
        created = await users.create_user(uow, None, f"Admin {uuid.uuid4().hex[:6]}", Role.ADMIN)
        await uow.commit()
    return Caller(str(created.user.id), created.user.name, "ADMIN", created.token, lambda: client)


@pytest.fixture(scope="module")
async def admin(live_server: LiveServer, engine: AsyncEngine) -> AsyncIterator[Caller]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield await _admin_on(engine, client)


# ---- limits (development server) -------------------------------------------------------


async def test_depth_limit(admin: Caller) -> None:
    for build in (nested, nested_in_fragments):
        ok = post(admin, build(12))
        assert ok == {"data": {"session": None}}, (build.__name__, ok)
        refused = post(admin, build(13))
        assert refused["data"] is None
        assert "exceeds maximum operation depth of 12" in messages(refused), build.__name__


async def test_alias_limit(admin: Caller) -> None:
    for build in (aliases, aliases_in_fragments):
        ok = post(admin, build(30))
        assert "errors" not in ok and len(ok["data"]) == 30, build.__name__
        refused = post(admin, build(31))
        assert refused["data"] is None
        assert "31 aliases found. Allowed: 30" in messages(refused), build.__name__


async def test_token_limit(admin: Caller) -> None:
    ok = post(admin, with_tokens(5000))
    assert ok["data"]["assignPackages"]["__typename"] == "NotFoundError"
    refused = post(admin, with_tokens(5001))
    assert refused["data"] is None
    assert "more than 5000 tokens" in messages(refused)


def _exact_body(size: int) -> bytes:
    head, tail = b'{"query": "{ __typename ', b'}"}'
    padding = size - len(head) - len(tail)
    assert padding > 0
    return head + b" " * padding + tail


async def test_body_limit(live_server: LiveServer) -> None:
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        at_limit = client.post("/graphql", content=_exact_body(1_000_000), headers=headers)
        assert at_limit.status_code == 200
        assert at_limit.json() == {"data": {"__typename": "Query"}}
        over = client.post("/graphql", content=_exact_body(1_000_001), headers=headers)
        assert over.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
            body = _exact_body(1_200_000)
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        streamed = client.post("/graphql", content=chunks(), headers=headers)
        assert streamed.status_code == 413
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        # The server is fine afterwards.
        assert client.get("/healthz").status_code == 200


# ---- production mode ---------------------------------------------------------------------


@dataclass
class Production:
    server: LiveServer
    dev: LiveServer
    database_url: str
    admin: Caller


@pytest.fixture(scope="module")
async def production(
    create_database: Callable[[str], Any], live_server: LiveServer
) -> AsyncIterator[Production]:
    """A production server on a database of its own (one test breaks it on purpose)."""
    url = str(await create_database("bipa_prod"))
    server = await asyncio.to_thread(
        LiveServer(url, env={"BIPA_ENV": "production"}).start
    )  # migrates its database first
    engine = make_engine(url, pool_size=2, max_overflow=0)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            admin = await _admin_on(engine, client)
            yield Production(server, live_server, url, admin)
    finally:
        await engine.dispose()
        server.stop()


INTROSPECTION = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Query") { name fields { name } } }',
    "query { me { id } __schema { types { name } } }",
]


async def test_production_refuses_introspection(production: Production, admin: Caller) -> None:
    for doc in INTROSPECTION:
        body = post(production.admin, doc)
        assert body["data"] is None, doc
        assert "introspection" in messages(body).lower(), doc
        dev = post(admin, doc)
        assert "errors" not in dev, "development keeps introspection"
    assert post(production.admin, "{ __typename }") == {"data": {"__typename": "Query"}}


async def test_production_gives_no_suggestions(production: Production, admin: Caller) -> None:
    for doc in (
        '{ sesion(id: "x") { id } }',  # field
        "{ me { nmae } }",  # field of a type
        "{ sessions(frist: 1) { totalCount } }",  # argument
        "{ sessions(status: OPN) { totalCount } }",  # enum value
        "{ me { ... on Usr { id } } }",  # type in a fragment
        "query($s: SesionStatus) { sessions(status: $s) { totalCount } }",  # variable type
        'mutation { createSession(input: {nme: "x"}) { __typename } }',  # input field
    ):
        body = post(production.admin, doc)
        assert body["data"] is None and body["errors"], doc
        assert "Did you mean" not in messages(body), doc
        assert "Did you mean" in messages(post(admin, doc)), "development does suggest"


async def test_production_serves_no_graphiql(production: Production) -> None:
    for accept in ("text/html", "text/html,application/xhtml+xml,*/*;q=0.8"):
        r = production.admin.client.get("/graphql", headers={"accept": accept})
        assert r.status_code >= 400
        assert "graphiql" not in r.text.lower()
    dev = httpx.get(production.dev.url + "/graphql", headers={"accept": "text/html"})
    assert dev.status_code == 200 and "graphiql" in dev.text.lower()


async def test_production_masks_unexpected_errors(production: Production) -> None:
    """A broken table makes an unexpected error: its text (SQL, driver) must not go out."""
    conn = await asyncpg.connect(asyncpg_dsn(production.database_url))
    try:
        await conn.execute("ALTER TABLE delivery_sessions RENAME TO delivery_sessions_gone")
        try:
            body = post(production.admin, "{ sessions { totalCount } }")
        finally:
            await conn.execute("ALTER TABLE delivery_sessions_gone RENAME TO delivery_sessions")
    finally:
        await conn.close()
    assert body["data"] is None
    assert messages(body) == "Unexpected error.", body
    assert_no_leak(body)
    # The server works again once the table is back.
    ok = post(production.admin, "{ sessions { totalCount } }")
    assert ok == {"data": {"sessions": {"totalCount": 0}}}


async def test_production_keeps_the_text_of_client_errors(production: Production) -> None:
    caller = production.admin
    no_token = caller.client.post("/graphql", json={"query": "{ me { id } }"}).json()
    assert no_token["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "authentication required" in no_token["errors"][0]["message"]

    too_deep = post(caller, nested(13))
    assert "maximum operation depth" in messages(too_deep)

    bad_cursor = post(caller, '{ sessions(after: "not-a-cursor") { totalCount } }')
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad_cursor["errors"][0]["message"] == "invalid cursor"

    # A Decimal variable given as a float is the client's mistake, refused on purpose by the
    # scalar: production must say so, not call it an unexpected error.
    doc = """mutation($d: Decimal!) { addDeliverer(input: {sessionId: "x", userId: "y",
      baseSalary: $d, commissionPerDelivery: "1.00"}) { __typename } }"""
    float_money = post(caller, doc, {"d": 1.5})
    assert float_money["data"] is None
    assert "Unexpected error" not in messages(float_money), float_money
    assert "Decimal" in messages(float_money), float_money
    assert_no_leak(float_money)


async def test_production_answers_bad_input_without_leaking(production: Production) -> None:
    """Odd but well-formed input: a result or a masked error, never internals."""
    caller = production.admin
    create = "mutation($n: String!) { createSession(input: {name: $n}) { __typename } }"
    for name in ("nul \x00 byte", "x" * 10_000, "\ud7ff\ue000"):
        body = post(caller, create, {"n": name})
        assert_no_leak(body)
    huge = (
        f'mutation {{ addDeliverer(input: {{sessionId: "{uuid.uuid4()}", userId: "{uuid.uuid4()}",'
        ' baseSalary: "1000000000000000000000000000000.000", commissionPerDelivery: "1"})'
        " { __typename } }"
    )
    assert_no_leak(post(caller, huge))


def test_backward_pages_count_like_forward_ones() -> None:
    """`last` returns as many nodes as `first`: the node bound counts either."""
    from graphql import OperationDefinitionNode, parse

    from gql.limits import count_nodes
    from gql.schema import PAGE_DEFAULTS

    def nodes(query: str, variables: dict[str, object] | None = None) -> int:
        document = parse(query)
        (operation,) = document.definitions
        assert isinstance(operation, OperationDefinitionNode)
        return count_nodes(document, operation, variables, PAGE_DEFAULTS, 10**9)

    inner = "edges { node { id audit(last: 1000) { edges { node { sequence } } } } }"
    forward = nodes(f"{{ sessions(first: 1000) {{ {inner.replace('last', 'first')} }} }}")
    backward = nodes(f"{{ sessions(last: 1000) {{ {inner} }} }}")
    assert backward == forward > 1000 * 1000
    by_variable = nodes(f"query($n: Int) {{ sessions(last: $n) {{ {inner} }} }}", {"n": 1000})
    assert by_variable == backward
    assert nodes("{ sessions { edges { node { id } } } }") < nodes(
        "{ sessions(first: 10, last: 900) { edges { node { id } } } }"
    )
