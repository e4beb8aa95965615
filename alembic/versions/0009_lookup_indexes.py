"""one index per table leads with session_id where rows are probed by (session, X)

Revision ID: 0009
Revises: 0008

Packages and addresses are probed by (session_id, code), (session_id, key) and, by the
packages' composite FKs, (session_id, id). PostgreSQL plans such a probe once per connection
(a generic plan); on a young table (no statistics yet, every estimate one row) another index
that leads with session_id costs the same and may be chosen, filtering over every row of the
session: each package inserted then read the whole session's addresses (the FK check), and a
10,000-row manifest import went quadratic (43 ms per 100-row insert and growing, against 7 ms
flat). Now the only index leading with session_id on each table is the one that finds the row;
the others lead with their other column. Same uniqueness; the lookups by status, key or user
give that column too.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, column that now leads, old name, new name
UNIQUE = (
    (
        "session_addresses",
        "normalized_key",
        "uq_session_addresses_session_id_normalized_key",
        "uq_session_addresses_normalized_key_session_id",
    ),
    (
        "session_deliverers",
        "user_id",
        "uq_session_deliverers_session_id_user_id",
        "uq_session_deliverers_user_id_session_id",
    ),
)
OLD_STATUS, NEW_STATUS = "ix_session_packages_session_status", "ix_session_packages_status_session"


def upgrade() -> None:
    for table, column, old, new in UNIQUE:
        # Built first, then the old one dropped: the rule holds at every moment.
        op.create_unique_constraint(new, table, [column, "session_id"])
        op.drop_constraint(old, table, type_="unique")
    op.create_index(NEW_STATUS, "session_packages", ["status", "session_id"])
    op.drop_index(OLD_STATUS, table_name="session_packages")


def downgrade() -> None:
    op.create_index(OLD_STATUS, "session_packages", ["session_id", "status"])
    op.drop_index(NEW_STATUS, table_name="session_packages")
    for table, column, old, new in UNIQUE:
        op.create_unique_constraint(old, table, ["session_id", column])
        op.drop_constraint(new, table, type_="unique")
