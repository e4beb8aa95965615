"""Who may do what, over real HTTP: every mutation x every role, visibility, and tokens.

Roles: ADMIN, the MANAGER who owns the session, another MANAGER, a DELIVERER taking part
in the session and a DELIVERER who is not in it (but takes part in another session).
A refused call must be a PermissionDeniedError and must change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from db.models import SessionDeliverer, SessionPackage
from domain import deliverers, packages, sessions
from domain.uow import UnitOfWork
from tests.e2e import queries as q
from tests.e2e.conftest import Caller

ROLES = ["admin", "owner", "other_manager", "participant", "outsider"]
MANAGERS_OF_THE_SESSION = frozenset({"admin", "owner"})

# Who may run each mutation (the session is in the state the mutation needs).
ALLOWED: dict[str, frozenset[str]] = {
    "createSession": frozenset({"admin", "owner", "other_manager"}),
    "reuseSession": MANAGERS_OF_THE_SESSION,
    "addPackages": MANAGERS_OF_THE_SESSION,
    "removePackage": MANAGERS_OF_THE_SESSION,
    "addDeliverer": MANAGERS_OF_THE_SESSION,
    "assignPackages": MANAGERS_OF_THE_SESSION,
    "startSession": MANAGERS_OF_THE_SESSION,
    "pauseSession": MANAGERS_OF_THE_SESSION,
    "resumeSession": MANAGERS_OF_THE_SESSION,
    "updatePackageStatus": MANAGERS_OF_THE_SESSION | {"participant"},
    "completeSession": MANAGERS_OF_THE_SESSION,
    "archiveSession": MANAGERS_OF_THE_SESSION,
}
# The session state each mutation needs to be allowed at all.
NEEDS: dict[str, str] = {
    "createSession": "OPEN",
    "reuseSession": "OPEN",
    "addPackages": "OPEN",
    "removePackage": "OPEN",
    "addDeliverer": "OPEN",
    "assignPackages": "OPEN",
    "startSession": "OPEN",
    "pauseSession": "ACTIVE",
    "resumeSession": "PAUSED",
    "updatePackageStatus": "ACTIVE",
    "completeSession": "ACTIVE",
    "archiveSession": "COMPLETED",
}
SUCCESS = {
    "createSession": "SessionSuccess",
    "reuseSession": "SessionSuccess",
    "addPackages": "AddPackagesSuccess",
    "removePackage": "PackageSuccess",
    "addDeliverer": "AddDelivererSuccess",
    "assignPackages": "AssignPackagesSuccess",
    "startSession": "SessionSuccess",
    "pauseSession": "SessionSuccess",
    "resumeSession": "SessionSuccess",
    "updatePackageStatus": "PackageSuccess",
    "completeSession": "SessionSuccess",
    "archiveSession": "SessionSuccess",
}


@dataclass
class Cast:
    admin: Caller
    owner: Caller
    other_manager: Caller
    participant: Caller
    outsider: Caller
    helper: Caller  # a second deliverer of every session, a target for assignPackages

    def __getitem__(self, role: str) -> Caller:
        return getattr(self, role)  # type: ignore[no-any-return]


@dataclass
class World:
    sid: str
    package_ids: list[str]
    participant_deliverer: str
    helper_deliverer: str


@pytest.fixture(scope="module")
async def cast(make_user: Callable[..., Any]) -> Cast:
    c = Cast(
        admin=await make_user("ADMIN"),
        owner=await make_user("MANAGER"),
        other_manager=await make_user("MANAGER"),
        participant=await make_user("DELIVERER"),
        outsider=await make_user("DELIVERER"),
        helper=await make_user("DELIVERER"),
    )
    # The outsider is a deliverer somewhere else: that must not open this owner's sessions.
    elsewhere = c.other_manager(q.CREATE_SESSION, name="Outra")["createSession"]["session"]["id"]
    r = c.other_manager(
        q.ADD_DELIVERER, sid=elsewhere, uid=c.outsider.id, base="1.00", commission="1.00"
    )
    assert r["addDeliverer"]["__typename"] == "AddDelivererSuccess"
    return c


async def build_world(uows: Callable[[], UnitOfWork], cast: Cast, status: str) -> World:
    """A session of the owner in `status`, with two packages assigned to the participant.

    Built through the domain services straight on the database (fast); the calls under test
    go over HTTP.
    """

    async def step(fn: Callable[[UnitOfWork, Any], Awaitable[Any]]) -> Any:
        async with uows() as uow:
            owner = await uow.users.get(uuid.UUID(cast.owner.id))
            result = await fn(uow, owner)
            await uow.commit()
        return result

    row = await step(lambda u, o: sessions.create_session(u, o, f"Permissões {status}"))
    dids = []
    for courier in (cast.participant, cast.helper):
        user_id = uuid.UUID(courier.id)
        d, _ = await step(
            lambda u, o, user_id=user_id: deliverers.add_deliverer(  # type: ignore[misc]
                u, o, row.id, user_id, "50.00", "2.00"
            )
        )
        dids.append(d.id)
    items = [
        packages.PackageData("7891000315507", deliverer_id=dids[0]),
        packages.PackageData("96385074", deliverer_id=dids[0]),
    ]
    added = await step(lambda u, o: packages.add_packages(u, o, row.id, items))
    moves: dict[str, list[Callable[[UnitOfWork, Any], Awaitable[Any]]]] = {
        "OPEN": [],
        "ACTIVE": [lambda u, o: sessions.start_session(u, o, row.id)],
        "PAUSED": [
            lambda u, o: sessions.start_session(u, o, row.id),
            lambda u, o: sessions.pause_session(u, o, row.id),
        ],
        "COMPLETED": [
            lambda u, o: sessions.start_session(u, o, row.id),
            lambda u, o: sessions.complete_session(u, o, row.id, force=True),
        ],
    }
    for move in moves[status]:
        await step(move)
    return World(str(row.id), [str(p.id) for p in added.added], str(dids[0]), str(dids[1]))


_DENIED_WORLDS: dict[str, World] = {}


async def world_for(uows: Callable[[], UnitOfWork], cast: Cast, mutation: str, role: str) -> World:
    """A fresh world for a call that changes it; refused calls change nothing, so they share."""
    if role in ALLOWED[mutation]:
        return await build_world(uows, cast, NEEDS[mutation])
    if mutation not in _DENIED_WORLDS:
        _DENIED_WORLDS[mutation] = await build_world(uows, cast, NEEDS[mutation])
    return _DENIED_WORLDS[mutation]


async def state(uows: Callable[[], UnitOfWork], sid: str) -> dict[str, Any]:
    """Everything a call could change under a session, read straight from the database."""
    session_id = uuid.UUID(sid)
    async with uows() as uow:
        row = await uow.sessions.get(session_id)
        assert row is not None
        pkgs = await uow.session.execute(
            select(
                SessionPackage.id,
                SessionPackage.status,
                SessionPackage.deliverer_id,
                SessionPackage.updated_at,
            )
            .where(SessionPackage.session_id == session_id)
            .order_by(SessionPackage.id)
        )
        dels = await uow.session.execute(
            select(
                SessionDeliverer.id,
                SessionDeliverer.packages_assigned,
                SessionDeliverer.packages_delivered,
                SessionDeliverer.total_earned,
            )
            .where(SessionDeliverer.session_id == session_id)
            .order_by(SessionDeliverer.id)
        )
        return {
            "status": row.status.value,
            "lastSequence": row.last_sequence,
            "reuseCount": row.reuse_count,
            "snapshot": row.financial_snapshot,
            "audit": await uow.audit.count(session_id),
            "packages": [tuple(r) for r in pkgs],
            "deliverers": [tuple(r) for r in dels],
        }


def run_mutation(name: str, caller: Caller, world: World, extra_user: str) -> dict[str, Any]:
    sid, pids = world.sid, world.package_ids
    match name:
        case "createSession":
            data = caller(q.CREATE_SESSION, name="Nova")
        case "addPackages":
            data = caller(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "4006381333931"}])
        case "removePackage":
            data = caller(q.REMOVE, pid=pids[1])
        case "addDeliverer":
            data = caller(q.ADD_DELIVERER, sid=sid, uid=extra_user, base="10.00", commission="1")
        case "assignPackages":
            data = caller(q.ASSIGN, sid=sid, pids=[pids[0]], did=world.helper_deliverer)
        case "updatePackageStatus":
            data = caller(q.UPDATE_STATUS, pid=pids[0], status="PICKED_UP")
        case "completeSession":
            data = caller(q.COMPLETE, sid=sid, force=True)
        case _:
            data = caller(q.session_action(name), sid=sid)
    return data[name]  # type: ignore[no-any-return]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("mutation", sorted(ALLOWED))
async def test_mutation_permissions(
    cast: Cast,
    make_user: Callable[..., Any],
    committed_session_uow: Callable[[], UnitOfWork],
    mutation: str,
    role: str,
) -> None:
    world = await world_for(committed_session_uow, cast, mutation, role)
    extra = await make_user("DELIVERER") if mutation == "addDeliverer" else None
    before = await state(committed_session_uow, world.sid)
    result = run_mutation(mutation, cast[role], world, extra.id if extra else "")
    after = await state(committed_session_uow, world.sid)
    if role in ALLOWED[mutation]:
        assert result["__typename"] == SUCCESS[mutation], result
        if mutation != "createSession":
            assert after["lastSequence"] > before["lastSequence"]
            assert after["audit"] == after["lastSequence"]
        else:
            created = result["session"]
            assert created["owner"]["id"] == cast[role].id and created["status"] == "OPEN"
    else:
        assert result["__typename"] == "PermissionDeniedError", result
        assert result["message"]
        assert after == before, "a refused call changes nothing"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", {"ADMIN", "MANAGER", "DELIVERER"}),
        ("owner", {"DELIVERER"}),
        ("other_manager", {"DELIVERER"}),
        ("participant", set()),
        ("outsider", set()),
    ],
)
async def test_create_user_permissions(cast: Cast, role: str, allowed: set[str]) -> None:
    for new_role in ("ADMIN", "MANAGER", "DELIVERER"):
        name = f"Criado {uuid.uuid4().hex[:8]}"
        r = cast[role](q.CREATE_USER, name=name, role=new_role)["createUser"]
        if new_role in allowed:
            assert r["__typename"] == "CreateUserSuccess", (role, new_role, r)
            assert r["user"]["role"] == new_role and r["token"]
            # The token it returns works at once and belongs to the new user.
            me = cast.admin.client.post(
                "/graphql",
                json={"query": "{ me { id role } }"},
                headers={"authorization": f"Bearer {r['token']}"},
            ).json()["data"]["me"]
            assert me == {"id": r["user"]["id"], "role": new_role}
        else:
            assert r["__typename"] == "PermissionDeniedError", (role, new_role, r)


async def test_participant_cannot_change_a_package_of_another_deliverer(
    cast: Cast, committed_session_uow: Callable[[], UnitOfWork]
) -> None:
    world = await build_world(committed_session_uow, cast, "ACTIVE")
    moved = cast.owner(
        q.ASSIGN, sid=world.sid, pids=[world.package_ids[0]], did=world.helper_deliverer
    )
    assert moved["assignPackages"]["__typename"] == "AssignPackagesSuccess"
    before = await state(committed_session_uow, world.sid)
    r = cast.participant(q.UPDATE_STATUS, pid=world.package_ids[0], status="DELIVERED")
    assert r["updatePackageStatus"]["__typename"] == "PermissionDeniedError"
    assert await state(committed_session_uow, world.sid) == before
    own = cast.helper(q.UPDATE_STATUS, pid=world.package_ids[0], status="DELIVERED")
    assert own["updatePackageStatus"]["__typename"] == "PackageSuccess"


VISIBLE = {"admin", "owner", "participant"}
LISTING = """query($after: String, $owner: ID) {
  sessions(first: 200, after: $after, ownerId: $owner) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name owner { id } deliverers { user { id } } } }
  }
}"""


def all_sessions(caller: Caller, owner_id: str | None = None) -> list[dict[str, Any]]:
    """Every session the caller lists (all pages), checked against totalCount."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = caller(LISTING, after=after, owner=owner_id)["sessions"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert page["totalCount"] == len(nodes) == len({n["id"] for n in nodes})
    return nodes


@pytest.mark.parametrize("role", ROLES)
async def test_session_visibility(
    cast: Cast, committed_session_uow: Callable[[], UnitOfWork], role: str
) -> None:
    world = await world_for(
        committed_session_uow, cast, "updatePackageStatus", "outsider"
    )  # ACTIVE, unchanged by others
    caller = cast[role]
    seen = caller("query($id: ID!) { session(id: $id) { id owner { id } } }", id=world.sid)
    pkg = caller(
        "query($sid: ID!, $b: String!) { package(sessionId: $sid, barcode: $b) { id } }",
        sid=world.sid,
        b="7891000315507",
    )
    owner_nodes = all_sessions(caller, owner_id=cast.owner.id)
    owner_ids = [n["id"] for n in owner_nodes]
    # ADMIN sees every session of the test database: its full listing says nothing more.
    nodes = owner_nodes if role == "admin" else all_sessions(caller)
    ids = [n["id"] for n in nodes]
    if role in VISIBLE:
        assert seen["session"] == {"id": world.sid, "owner": {"id": cast.owner.id}}
        assert pkg["package"] is not None
        assert world.sid in ids and world.sid in owner_ids
    else:
        assert seen["session"] is None
        assert pkg["package"] is None
        assert world.sid not in ids and world.sid not in owner_ids
    # Every listed session is one the caller may see.
    for node in nodes:
        if role == "owner" or role == "other_manager":
            assert node["owner"]["id"] == caller.id
        elif role in ("participant", "outsider"):
            assert caller.id in {d["user"]["id"] for d in node["deliverers"]}
    if role == "outsider":
        assert ids, "the outsider still sees the session they take part in"


MUTATION_DOCS: dict[str, tuple[str, dict[str, Any]]] = {
    "createUser": (q.CREATE_USER, {"name": "X", "role": "DELIVERER"}),
    "createSession": (q.CREATE_SESSION, {"name": "Sem token"}),
    "reuseSession": (q.session_action("reuseSession"), {"sid": str(uuid.uuid4())}),
    "addPackages": (q.ADD_PACKAGES, {"sid": str(uuid.uuid4()), "packages": [{"barcode": "A"}]}),
    "removePackage": (q.REMOVE, {"pid": str(uuid.uuid4())}),
    "addDeliverer": (
        q.ADD_DELIVERER,
        {"sid": str(uuid.uuid4()), "uid": str(uuid.uuid4()), "base": "1", "commission": "1"},
    ),
    "assignPackages": (
        q.ASSIGN,
        {"sid": str(uuid.uuid4()), "pids": [str(uuid.uuid4())], "did": str(uuid.uuid4())},
    ),
    "startSession": (q.session_action("startSession"), {"sid": str(uuid.uuid4())}),
    "pauseSession": (q.session_action("pauseSession"), {"sid": str(uuid.uuid4())}),
    "resumeSession": (q.session_action("resumeSession"), {"sid": str(uuid.uuid4())}),
    "updatePackageStatus": (q.UPDATE_STATUS, {"pid": str(uuid.uuid4()), "status": "DELIVERED"}),
    "completeSession": (q.COMPLETE, {"sid": str(uuid.uuid4())}),
    "archiveSession": (q.session_action("archiveSession"), {"sid": str(uuid.uuid4())}),
    "me": ("{ me { id } }", {}),
    "sessions": ("{ sessions { totalCount } }", {}),
}
BAD_AUTH = {
    "none": None,
    "unknown token": "Bearer bipa_not-a-real-token",
    "empty bearer": "Bearer",
    "wrong scheme": "Basic {token}",
    "token without scheme": "{token}",
}


@pytest.mark.parametrize("auth", sorted(BAD_AUTH))
@pytest.mark.parametrize("operation", sorted(MUTATION_DOCS))
async def test_no_or_bad_token_is_unauthenticated(cast: Cast, operation: str, auth: str) -> None:
    doc, variables = MUTATION_DOCS[operation]
    template = BAD_AUTH[auth]
    headers = {}
    if template is not None:
        headers["authorization"] = template.format(token=cast.admin.token)
    r = cast.admin.client.post(
        "/graphql", json={"query": doc, "variables": variables}, headers=headers
    )
    assert r.status_code == 200
    body = r.json()
    assert body["data"] is None, body
    codes = [e.get("extensions", {}).get("code") for e in body["errors"]]
    assert codes and set(codes) == {"UNAUTHENTICATED"}, body
    if operation == "createSession":
        names = [n["name"] for n in all_sessions(cast.admin, owner_id=cast.admin.id)]
        assert "Sem token" not in names


@pytest.mark.parametrize("auth", sorted(BAD_AUTH))
async def test_nullable_reads_without_a_valid_token_reveal_nothing(
    cast: Cast, committed_session_uow: Callable[[], UnitOfWork], auth: str
) -> None:
    world = await world_for(committed_session_uow, cast, "reuseSession", "outsider")
    template = BAD_AUTH[auth]
    headers = {}
    if template is not None:
        headers["authorization"] = template.format(token=cast.owner.token)
    doc = """query($id: ID!) { session(id: $id) { id name }
      package(sessionId: $id, barcode: "7891000315507") { id } }"""
    body = cast.admin.client.post(
        "/graphql", json={"query": doc, "variables": {"id": world.sid}}, headers=headers
    ).json()
    assert not body.get("data") or all(v is None for v in body["data"].values()), body
    codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
    assert codes == {"UNAUTHENTICATED"}, body
