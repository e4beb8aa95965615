"""`bipa demo`: users and a session with packages, to try the API at once."""

from __future__ import annotations

from bipa.settings import Settings
from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from domain import users as user_service
from domain.uow import UnitOfWork


async def run_demo(url: str, settings: Settings) -> int:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            manager = await user_service.create_user(uow, None, "Demo Manager", Role.MANAGER)
            d1 = await user_service.create_user(uow, None, "Ana Entregadora", Role.DELIVERER)
            d2 = await user_service.create_user(uow, None, "Bruno Entregador", Role.DELIVERER)
            await uow.commit()
    finally:
        await engine.dispose()
    print(f"manager  {manager.user.name}: {manager.token}")
    print(f"deliverer {d1.user.name}: {d1.token}")
    print(f"deliverer {d2.user.name}: {d2.token}")
    print(f"\nGraphiQL: http://{settings.host}:{settings.port}/graphql")
    print('Headers: {"Authorization": "Bearer ' + manager.token + '"}')
    print("Query:   { me { id name role } }")
    return 0
