"""background jobs: our jobs table, and procrastinate's schema (3.10) for the queue

Revision ID: 0006
Revises: 0005

procrastinate's tables, types and functions are its own (not in db/models.py): alembic/env.py
leaves every `procrastinate_*` name out of the comparison, so `alembic check` stays clean.
The schema is the one procrastinate 3.10.0 ships (copied beside this file, so this migration
never changes when the library does); a later procrastinate version brings its own SQL
migrations (procrastinate/sql/migrations), applied by a migration of ours after this one.
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.util import await_only

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = Path(__file__).with_name('0006_procrastinate_3_10_schema.sql')

job_status = postgresql.ENUM('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', name='job_status', create_type=False)
job_kind = postgresql.ENUM('IMPORT_MANIFEST', 'EXPORT_REPORT', name='job_kind', create_type=False)


def _run_script(sql: str) -> None:
    """Many statements (functions with $$ bodies) in one simple-protocol call, in this
    migration's transaction: asyncpg's execute without arguments does exactly that."""
    raw = op.get_bind().connection.driver_connection
    await_only(raw.execute(sql))


def upgrade() -> None:
    _run_script(SCHEMA.read_text(encoding='utf-8'))
    job_status.create(op.get_bind())
    job_kind.create(op.get_bind())
    op.create_table('jobs',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('kind', job_kind, nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('status', job_status, nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('work_hash', sa.String(length=64), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('requested_by', sa.UUID(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name=op.f('ck_jobs_progress_percent')),
    sa.CheckConstraint('done >= 0 AND failed >= 0 AND attempts >= 0 AND (total IS NULL OR total >= 0)', name=op.f('ck_jobs_counters_non_negative')),
    sa.CheckConstraint("(status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')) = (finished_at IS NOT NULL)", name=op.f('ck_jobs_finished_at_iff_final')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_jobs_requested_by_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['delivery_sessions.id'], name=op.f('fk_jobs_session_id_delivery_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index('uq_jobs_active_work', 'jobs', ['work_hash'], unique=True, postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"))
    op.create_index('ix_jobs_session_created', 'jobs', ['session_id', 'created_at'], unique=False)
    op.create_index('ix_jobs_active', 'jobs', ['updated_at'], unique=False, postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"))


def downgrade() -> None:
    op.drop_index('ix_jobs_active', table_name='jobs')
    op.drop_index('ix_jobs_session_created', table_name='jobs')
    op.drop_index('uq_jobs_active_work', table_name='jobs')
    op.drop_table('jobs')
    job_kind.drop(op.get_bind())
    job_status.drop(op.get_bind())
    _run_script(
        """
        DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
            procrastinate_jobs, procrastinate_workers CASCADE;
        DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
            procrastinate_job_status CASCADE;
        DO $$
        DECLARE f record;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
            LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || f.sig || ' CASCADE';
            END LOOP;
        END $$;
        """
    )
