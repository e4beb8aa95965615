"""tracking codes: carrier, raw text, recipient read from the label

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00

`barcode` stays the column dedup and matching use; from here on it holds the canonical code
(tracking.identify). Existing rows keep their barcode as their canonical code and get no raw
text: a NULL raw_text means "as the barcode". They are not rewritten: packages of completed
sessions are immutable (db/guards.py), and their barcodes are already canonical (2D payloads
and check-failing carrier codes could not be added before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('session_packages', sa.Column('carrier', sa.String(length=32), nullable=True))
    op.add_column('session_packages', sa.Column('raw_text', sa.Text(), nullable=True))
    op.add_column(
        'session_packages',
        sa.Column('recipient_from_label', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_check_constraint(
        op.f('ck_session_packages_raw_text_length'),
        'session_packages',
        'length(raw_text) <= 4096',
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f('ck_session_packages_raw_text_length'), 'session_packages', type_='check'
    )
    op.drop_column('session_packages', 'recipient_from_label')
    op.drop_column('session_packages', 'raw_text')
    op.drop_column('session_packages', 'carrier')
