"""Brazilian addresses: structured parts, CEP as 8 digits, how a place was found; geocode_cache

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import geo
from db import guards

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTS = ('street', 'complement', 'neighbourhood')


def upgrade() -> None:
    for name in PARTS:
        op.add_column('session_addresses', sa.Column(name, sa.Text(), nullable=True))
    op.add_column('session_addresses', sa.Column('number', sa.String(length=20), nullable=True))
    op.add_column('session_addresses', sa.Column('state', sa.String(length=2), nullable=True))
    op.add_column('session_addresses', sa.Column('geo_precision', sa.String(length=16), nullable=True))
    op.add_column('session_addresses', sa.Column('geo_provider', sa.String(length=32), nullable=True))
    op.create_check_constraint(
        op.f('ck_session_addresses_geo_precision_known'),
        'session_addresses',
        "geo_precision IS NULL OR geo_precision IN ('ROOFTOP', 'STREET', 'CEP', 'MANUAL')",
    )
    op.create_check_constraint(
        op.f('ck_session_addresses_state_two_letters'),
        'session_addresses',
        "state IS NULL OR state ~ '^[A-Z]{2}$'",
    )
    op.create_table('geocode_cache',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('precision', sa.String(length=16), nullable=True),
    sa.Column('provider', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL)', name=op.f('ck_geocode_cache_place_whole')),
    sa.CheckConstraint('(latitude IS NULL) = (precision IS NULL)', name=op.f('ck_geocode_cache_precision_iff_place')),
    sa.CheckConstraint('latitude IS NULL OR latitude BETWEEN -90 AND 90', name=op.f('ck_geocode_cache_latitude_range')),
    sa.CheckConstraint('longitude IS NULL OR longitude BETWEEN -180 AND 180', name=op.f('ck_geocode_cache_longitude_range')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_geocode_cache'))
    )
    for statement in guards.anonymization_install_statements(guards.ANONYMIZABLE):
        op.execute(statement)
    _rekey()


def _rekey() -> None:
    """CEPs as 8 digits and keys in the new normalised form, for the sessions that can still
    change (read-only ones keep their rows, as their guard wants). Two rows of one session
    that now share a key keep the older key on the second: nothing is merged."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT a.id, a.session_id, a.line, a.city, a.postal_code, a.normalized_key "
        "FROM session_addresses a JOIN delivery_sessions s ON s.id = a.session_id "
        "WHERE s.status NOT IN ('COMPLETED', 'ARCHIVED') AND a.anonymized_at IS NULL "
        "ORDER BY a.session_id, a.id"
    )).all()
    taken: set[tuple[object, str]] = {(r.session_id, r.normalized_key) for r in rows}
    for r in rows:
        cep = geo.cep_digits(r.postal_code)
        new_key = geo.key(line=r.line, street=None, number=None, complement=None,
                          city=r.city, state=None, cep=cep or r.postal_code)
        if (r.session_id, new_key) in taken and new_key != r.normalized_key:
            new_key = r.normalized_key
        taken.add((r.session_id, new_key))
        bind.execute(
            sa.text("UPDATE session_addresses SET normalized_key = :k, postal_code = :p WHERE id = :i"),
            {"k": new_key, "p": cep or r.postal_code, "i": r.id},
        )


def downgrade() -> None:
    for statement in guards.anonymization_install_statements(guards.ANONYMIZABLE_0005):
        op.execute(statement)
    op.drop_table('geocode_cache')
    op.drop_constraint(op.f('ck_session_addresses_state_two_letters'), 'session_addresses', type_='check')
    op.drop_constraint(op.f('ck_session_addresses_geo_precision_known'), 'session_addresses', type_='check')
    for name in ('geo_provider', 'geo_precision', 'state', 'number', *PARTS):
        op.drop_column('session_addresses', name)
