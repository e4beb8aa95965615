"""recipient data with a lifetime: anonymized_at, and read-only guards that allow exactly that

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db import guards

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('session_packages', 'session_addresses', 'package_proofs', 'proof_objects')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('anonymized_at', sa.DateTime(timezone=True), nullable=True))
    for statement in guards.anonymization_install_statements():
        op.execute(statement)


def downgrade() -> None:
    for statement in guards.anonymization_drop_statements():
        op.execute(statement)
    for table in TABLES:
        op.drop_column(table, 'anonymized_at')
