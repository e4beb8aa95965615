"""The SQL statements of a session query do not grow with its packages (no N+1).

The schema runs in-process on an engine of its own, whose statements are counted with a
`before_cursor_execute` listener; the data is written (and committed) beforehand through the
domain services on another engine, so only the query's statements are counted.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from domain import deliverers, packages, sessions, users
from domain.addresses import AddressData
from domain.events import NullPublisher
from domain.uow import UnitOfWork
from gql.context import Context, Services
from gql.schema import build_schema

QUERY = """query($id: ID!) { session(id: $id) {
  packages(first: 1000) {
    totalCount
    edges { node { barcode address { line } deliverer { totalEarned user { name } } } }
  }
  progress { total }
  owner { name }
} }"""

MAX_STATEMENTS = 5  # authentication included


class Counter:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.on = False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.on:
            self.statements.append(" ".join(statement.split())[:160])


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[tuple[AsyncEngine, Counter]]:
    eng = make_engine(database_url, pool_size=5, max_overflow=5)
    counter = Counter()
    event.listen(eng.sync_engine, "before_cursor_execute", counter)
    yield eng, counter
    event.remove(eng.sync_engine, "before_cursor_execute", counter)
    await eng.dispose()


async def _session_with(uows: Callable[[], UnitOfWork], n: int) -> tuple[str, str]:
    """A session with `n` packages, each with its own address and one of three deliverers."""
    async with uows() as uow:
        owner = await users.create_user(uow, None, "Dona Contagem", Role.MANAGER)
        couriers = [
            (await users.create_user(uow, None, f"Entregador {i}", Role.DELIVERER)).user
            for i in range(3)
        ]
        row = await sessions.create_session(uow, owner.user, f"{n} pacotes")
        dids = []
        for courier in couriers:
            d, _ = await deliverers.add_deliverer(
                uow, owner.user, row.id, courier.id, "100.00", "1.50"
            )
            dids.append(d.id)
        items = [
            packages.PackageData(
                f"CNT-{n}-{i:04d}",
                address=AddressData(f"Rua {i}, {n}", "São Paulo"),
                deliverer_id=dids[i % 3],
            )
            for i in range(n)
        ]
        await packages.add_packages(uow, owner.user, row.id, items)
        await uow.commit()
    return str(row.id), owner.token


def _request(token: str) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "scheme": "http",
    }
    return Request(scope)


async def _statements(
    engine: AsyncEngine, counter: Counter, sid: str, token: str
) -> tuple[list[str], dict[str, Any]]:
    schema = build_schema()
    context = Context(
        request=_request(token),
        services=Services(sessionmaker=make_sessionmaker(engine), publisher=NullPublisher()),
        token=token,
    )
    counter.statements.clear()
    counter.on = True
    try:
        result = await schema.execute(QUERY, variable_values={"id": sid}, context_value=context)
    finally:
        counter.on = False
    assert result.errors is None, result.errors
    assert result.data is not None
    return list(counter.statements), result.data


async def test_statement_count_does_not_grow_with_packages(
    counted: tuple[AsyncEngine, Counter], committed_uow: Callable[[], UnitOfWork]
) -> None:
    engine, counter = counted
    seen: dict[int, list[str]] = {}
    for n in (10, 300):
        sid, token = await _session_with(committed_uow, n)
        statements, data = await _statements(engine, counter, sid, token)
        session = data["session"]
        edges = session["packages"]["edges"]
        assert session["packages"]["totalCount"] == n == len(edges) == session["progress"]["total"]
        assert session["owner"]["name"] == "Dona Contagem"
        assert all(e["node"]["address"]["line"].startswith("Rua ") for e in edges)
        assert {e["node"]["deliverer"]["user"]["name"] for e in edges} == {
            f"Entregador {i}" for i in range(3)
        }
        assert {e["node"]["deliverer"]["totalEarned"] for e in edges} == {"100.00"}
        seen[n] = statements
    listing = "\n".join(f"  {s}" for s in seen[300])
    assert len(seen[10]) == len(seen[300]), f"grew with the packages:\n{listing}"
    assert len(seen[300]) <= MAX_STATEMENTS, (
        f"{len(seen[300])} statements for one session query (at most {MAX_STATEMENTS}):\n{listing}"
    )


async def test_unknown_or_invisible_session_costs_two_statements_at_most(
    counted: tuple[AsyncEngine, Counter], committed_uow: Callable[[], UnitOfWork]
) -> None:
    """Authentication and one lookup; nothing below a null session is resolved."""
    engine, counter = counted
    sid, _ = await _session_with(committed_uow, 10)
    async with committed_uow() as uow:
        stranger = await users.create_user(uow, None, "Outra gerente", Role.MANAGER)
        await uow.commit()
    for target in (sid, str(uuid.uuid4())):
        statements, data = await _statements(engine, counter, target, stranger.token)
        assert data == {"session": None}
        assert len(statements) <= 2, statements


NEXT_STOPS = """query($id: ID!) { session(id: $id) {
  deliverers { user { name } nextStop { remaining stop { sequence } address { line }
    packages { barcode } } }
} }"""


async def _routed_session(uows: Callable[[], UnitOfWork], couriers: int) -> tuple[str, str]:
    """`couriers` deliverers, each with two parcels at two addresses on a route of theirs
    (written as an optimization would leave it)."""
    async with uows() as uow:
        owner = await users.create_user(uow, None, "Dona Rotas", Role.MANAGER)
        row = await sessions.create_session(uow, owner.user, f"{couriers} rotas")
        for k in range(couriers):
            courier = (await users.create_user(uow, None, f"Rota {k}", Role.DELIVERER)).user
            d, _ = await deliverers.add_deliverer(
                uow, owner.user, row.id, courier.id, "100.00", "1.50"
            )
            added = await packages.add_packages(
                uow,
                owner.user,
                row.id,
                [
                    packages.PackageData(
                        f"RT-{couriers}-{k}-{j}",
                        address=AddressData(f"Rua {k}-{j}, 1", "São Paulo"),
                        deliverer_id=d.id,
                    )
                    for j in range(2)
                ],
            )
            eta = "2026-12-01T12:00:00+00:00"
            d.route = {
                "stops": [
                    {
                        "sequence": j + 1,
                        "addressId": str(p.address_id),
                        "packageIds": [str(p.id)],
                        "eta": eta,
                        "etaOffsetS": 600 * j,
                        "travelS": 600,
                        "distanceM": 1000,
                        "parcels": 1,
                    }
                    for j, p in enumerate(added.added)
                ]
            }
        await uow.commit()
    return str(row.id), owner.token


async def test_next_stops_of_every_deliverer_are_read_together(
    counted: tuple[AsyncEngine, Counter], committed_uow: Callable[[], UnitOfWork]
) -> None:
    engine, counter = counted
    seen: dict[int, list[str]] = {}
    for couriers in (1, 4):
        sid, token = await _routed_session(committed_uow, couriers)
        counter.statements.clear()
        counter.on = True
        try:
            schema = build_schema()
            context = Context(
                request=_request(token),
                services=Services(
                    sessionmaker=make_sessionmaker(engine), publisher=NullPublisher()
                ),
                token=token,
            )
            result = await schema.execute(
                NEXT_STOPS, variable_values={"id": sid}, context_value=context
            )
        finally:
            counter.on = False
        assert result.errors is None, result.errors
        assert result.data is not None
        team = result.data["session"]["deliverers"]
        assert len(team) == couriers
        for d in team:
            k = d["user"]["name"].removeprefix("Rota ")
            nxt = d["nextStop"]
            assert (nxt["remaining"], nxt["stop"]["sequence"]) == (2, 1), nxt
            assert nxt["address"]["line"] == f"Rua {k}-0, 1"
            assert [p["barcode"] for p in nxt["packages"]] == [f"RT-{couriers}-{k}-0"]
        seen[couriers] = list(counter.statements)
    listing = "\n".join(f"  {s}" for s in seen[4])
    assert len(seen[4]) == len(seen[1]), f"grew with the deliverers:\n{listing}"
