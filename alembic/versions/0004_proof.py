"""proof of delivery: package_proofs, proof_objects, per-session requirement, read-only guards

Revision ID: 0004
Revises: 0002 (re-chained onto 0003, parcel labels, when both branches merge)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db import guards

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('delivery_sessions', sa.Column('proof_requires_photo', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('delivery_sessions', sa.Column('proof_requires_signature', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.create_table('package_proofs',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('package_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('received_by', sa.String(length=200), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('DELIVERED', 'FAILED')", name=op.f('ck_package_proofs_status_final')),
    sa.CheckConstraint('latitude IS NULL OR latitude BETWEEN -90 AND 90', name=op.f('ck_package_proofs_latitude_range')),
    sa.CheckConstraint('longitude IS NULL OR longitude BETWEEN -180 AND 180', name=op.f('ck_package_proofs_longitude_range')),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL)', name=op.f('ck_package_proofs_place_whole')),
    sa.CheckConstraint('accuracy_m IS NULL OR accuracy_m >= 0', name=op.f('ck_package_proofs_accuracy_non_negative')),
    sa.ForeignKeyConstraint(['package_id'], ['session_packages.id'], name=op.f('fk_package_proofs_package_id_session_packages')),
    sa.ForeignKeyConstraint(['session_id'], ['delivery_sessions.id'], name=op.f('fk_package_proofs_session_id_delivery_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_proofs')),
    sa.UniqueConstraint('package_id', name=op.f('uq_package_proofs_package_id'))
    )
    op.create_index(op.f('ix_package_proofs_session_id'), 'package_proofs', ['session_id'], unique=False)
    op.create_table('proof_objects',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('proof_id', sa.UUID(), nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('PHOTO', 'SIGNATURE')", name=op.f('ck_proof_objects_kind_known')),
    sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f('ck_proof_objects_sha256_hex')),
    sa.CheckConstraint('size > 0 AND width > 0 AND height > 0', name=op.f('ck_proof_objects_dimensions_positive')),
    sa.ForeignKeyConstraint(['proof_id'], ['package_proofs.id'], name=op.f('fk_proof_objects_proof_id_package_proofs')),
    sa.ForeignKeyConstraint(['session_id'], ['delivery_sessions.id'], name=op.f('fk_proof_objects_session_id_delivery_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proof_objects')),
    sa.UniqueConstraint('key', name=op.f('uq_proof_objects_key')),
    sa.UniqueConstraint('proof_id', 'kind', 'position', name=op.f('uq_proof_objects_proof_id_kind_position'))
    )
    op.create_index(op.f('ix_proof_objects_proof_id'), 'proof_objects', ['proof_id'], unique=False)
    for statement in guards.proof_install_statements():
        op.execute(statement)


def downgrade() -> None:
    for statement in guards.proof_drop_statements():
        op.execute(statement)
    op.drop_index(op.f('ix_proof_objects_proof_id'), table_name='proof_objects')
    op.drop_table('proof_objects')
    op.drop_index(op.f('ix_package_proofs_session_id'), table_name='package_proofs')
    op.drop_table('package_proofs')
    op.drop_column('delivery_sessions', 'proof_requires_signature')
    op.drop_column('delivery_sessions', 'proof_requires_photo')
