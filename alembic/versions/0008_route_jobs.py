"""jobs that geocode a session and optimize its routes: two more job kinds

Revision ID: 0008
Revises: 0007

ADD VALUE runs inside the migration's transaction (PostgreSQL 12+); nothing here uses the new
values before the commit. PostgreSQL cannot drop an enum value: the downgrade removes the jobs
of these kinds (queue rows, not history) and rebuilds the type without them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = ("GEOCODE_SESSION", "OPTIMIZE_ROUTES")
OLD = ("IMPORT_MANIFEST", "EXPORT_REPORT")


def upgrade() -> None:
    for value in NEW:
        op.execute(f"ALTER TYPE job_kind ADD VALUE IF NOT EXISTS '{value}'")


def downgrade() -> None:
    kinds = ", ".join(f"'{v}'" for v in NEW)
    op.execute(f"DELETE FROM jobs WHERE kind IN ({kinds})")
    op.execute("ALTER TYPE job_kind RENAME TO job_kind_0008")
    op.execute(f"CREATE TYPE job_kind AS ENUM ({', '.join(repr(v) for v in OLD)})")
    op.execute("ALTER TABLE jobs ALTER COLUMN kind TYPE job_kind USING kind::text::job_kind")
    op.execute("DROP TYPE job_kind_0008")
