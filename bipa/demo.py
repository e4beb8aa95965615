"""`bipa demo`: a manager, two deliverers and a session with packages, to try the API at once."""

from __future__ import annotations

import json

from bipa.settings import Settings
from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from domain import deliverers, packages, sessions
from domain import users as user_service
from domain.addresses import AddressData
from domain.packages import PackageData
from domain.uow import UnitOfWork

PARCELS = [
    ("7891000315507", "Maria Oliveira", "Rua das Flores, 120", "São Paulo", "01310-100"),
    ("7894900011517", "João Santos", "Av. Paulista, 1578", "São Paulo", "01310-200"),
    ("036000291452", "Ana Costa", "Rua Augusta, 900", "São Paulo", "01305-100"),
    ("96385074", "Pedro Lima", "Rua das Flores, 120", "São Paulo", "01310-100"),
    ("LBR-000123-SP", "Carla Souza", "Rua Oscar Freire, 45", "São Paulo", "01426-001"),
]

QUERY = """query Demo($id: ID!) {
  session(id: $id) {
    name status progress { total delivered percent }
    deliverers { user { name } baseSalary commissionPerDelivery totalEarned }
    packages(first: 10) {
      edges { node { barcode status recipientName address { line } deliverer { user { name } } } }
    }
  }
}"""


async def run_demo(url: str, settings: Settings) -> int:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with UnitOfWork(make_sessionmaker(engine), currency=settings.currency) as uow:
            manager = await user_service.create_user(uow, None, "Gerente Demo", Role.MANAGER)
            ana = await user_service.create_user(uow, None, "Ana Entregadora", Role.DELIVERER)
            bruno = await user_service.create_user(uow, None, "Bruno Entregador", Role.DELIVERER)
            session = await sessions.create_session(uow, manager.user, "Demo: entregas da manhã")
            d_ana, _ = await deliverers.add_deliverer(
                uow, manager.user, session.id, ana.user.id, "120.00", "3.50"
            )
            d_bruno, _ = await deliverers.add_deliverer(
                uow, manager.user, session.id, bruno.user.id, "110.00", "4.00"
            )
            items = [
                PackageData(
                    barcode=code,
                    recipient_name=name,
                    address=AddressData(line, city, postal),
                    deliverer_id=(d_ana if i % 2 == 0 else d_bruno).id,
                )
                for i, (code, name, line, city, postal) in enumerate(PARCELS)
            ]
            await packages.add_packages(uow, manager.user, session.id, items)
            await uow.commit()
    finally:
        await engine.dispose()
    print("Demo data created (tokens are shown once):")
    print(f"  manager   {manager.user.name}: {manager.token}")
    print(f"  deliverer {ana.user.name}: {ana.token}")
    print(f"  deliverer {bruno.user.name}: {bruno.token}")
    print(f"\nOpen GraphiQL at http://{settings.host}:{settings.port}/graphql and set the header")
    print('  {"Authorization": "Bearer ' + manager.token + '"}')
    print("\nQuery:\n" + QUERY)
    print("\nVariables:\n  " + json.dumps({"id": str(session.id)}))
    return 0
