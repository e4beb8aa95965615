"""Guarantees PostgreSQL enforces by itself, whatever client writes.

Each guard is a trigger installed by the migrations (see alembic/versions). They back up the
domain rules so that a bug, a script or a manual psql session cannot rewrite history:

* ``session_audit_log`` is append-only: UPDATE, DELETE and TRUNCATE raise.
* Packages, deliverers and addresses of a COMPLETED or ARCHIVED session cannot be inserted,
  changed or deleted. The domain therefore writes the last package change *before* it moves
  the session to COMPLETED (it flushes in that order).
* A financial snapshot, once written, never changes; a read-only session never leaves the
  read-only states except COMPLETED -> ARCHIVED, and its other columns stay as they were
  (only ``status``, ``archived_at``, ``last_sequence`` and ``updated_at`` may move on archive).
* Proof of delivery (``package_proofs``, ``proof_objects``) of a COMPLETED or ARCHIVED session
  cannot be added, replaced or removed (0004), and a read-only session's proof requirement
  stays as it was.
* Money is never negative: CHECK constraints in db/models.py.
"""

from __future__ import annotations

# Columns of a read-only session that never change again (0001); proof requirements joined
# them in 0004.
FROZEN_SESSION_COLUMNS: tuple[str, ...] = (
    "name",
    "owner_id",
    "was_reused",
    "reuse_count",
    "created_at",
    "started_at",
    "completed_at",
    "route_optimization_data",
)
PROOF_SESSION_COLUMNS: tuple[str, ...] = ("proof_requires_photo", "proof_requires_signature")


def history_guard(columns: tuple[str, ...]) -> str:
    frozen = "\n           OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
    return f"""
CREATE OR REPLACE FUNCTION bipa_session_history_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status IN ('COMPLETED', 'ARCHIVED') THEN
            RAISE EXCEPTION 'deleting read-only session % refused', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.financial_snapshot IS NOT NULL
       AND NEW.financial_snapshot IS DISTINCT FROM OLD.financial_snapshot THEN
        RAISE EXCEPTION 'financial snapshot of session % is immutable', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.status IN ('COMPLETED', 'ARCHIVED') THEN
        IF NOT (NEW.status = OLD.status
                OR (OLD.status = 'COMPLETED' AND NEW.status = 'ARCHIVED')) THEN
            RAISE EXCEPTION 'session % is read-only: % -> % refused', OLD.id, OLD.status, NEW.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF {frozen}
           OR (OLD.status = 'ARCHIVED' AND NEW.archived_at IS DISTINCT FROM OLD.archived_at) THEN
            RAISE EXCEPTION 'session % is read-only', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;
"""


GUARD_FUNCTIONS: tuple[tuple[str, str], ...] = (
    (
        "bipa_audit_append_only",
        """
CREATE OR REPLACE FUNCTION bipa_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'session_audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
""",
    ),
    ("bipa_session_children_readonly", "CHILDREN"),
    ("bipa_session_history_guard", "HISTORY"),
)

GUARD_TRIGGERS: tuple[tuple[str, str, str], ...] = (
    (
        "trg_audit_append_only",
        "session_audit_log",
        "BEFORE UPDATE OR DELETE ON session_audit_log "
        "FOR EACH ROW EXECUTE FUNCTION bipa_audit_append_only()",
    ),
    (
        "trg_audit_no_truncate",
        "session_audit_log",
        "BEFORE TRUNCATE ON session_audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION bipa_audit_append_only()",
    ),
    (
        "trg_packages_readonly",
        "session_packages",
        "BEFORE INSERT OR UPDATE OR DELETE ON session_packages "
        "FOR EACH ROW EXECUTE FUNCTION bipa_session_children_readonly()",
    ),
    (
        "trg_deliverers_readonly",
        "session_deliverers",
        "BEFORE INSERT OR UPDATE OR DELETE ON session_deliverers "
        "FOR EACH ROW EXECUTE FUNCTION bipa_session_children_readonly()",
    ),
    (
        "trg_addresses_readonly",
        "session_addresses",
        "BEFORE INSERT OR UPDATE OR DELETE ON session_addresses "
        "FOR EACH ROW EXECUTE FUNCTION bipa_session_children_readonly()",
    ),
    (
        "trg_session_history",
        "delivery_sessions",
        "BEFORE UPDATE OR DELETE ON delivery_sessions "
        "FOR EACH ROW EXECUTE FUNCTION bipa_session_history_guard()",
    ),
)


def install_statements() -> list[str]:
    """What 0001 installs."""
    statements = [
        history_guard(FROZEN_SESSION_COLUMNS)
        if body == "HISTORY"
        else children_readonly(anonymization=False)
        if body == "CHILDREN"
        else body
        for _, body in GUARD_FUNCTIONS
    ]
    for name, table, spec in GUARD_TRIGGERS:
        statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        statements.append(f"CREATE TRIGGER {name} {spec}")
    return statements


def drop_statements() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table, _ in GUARD_TRIGGERS]
    statements += [f"DROP FUNCTION IF EXISTS {name}()" for name, _ in GUARD_FUNCTIONS]
    return statements


# 0004: proof of delivery is history like the packages it proves.
PROOF_TRIGGERS: tuple[tuple[str, str, str], ...] = (
    (
        "trg_package_proofs_readonly",
        "package_proofs",
        "BEFORE INSERT OR UPDATE OR DELETE ON package_proofs "
        "FOR EACH ROW EXECUTE FUNCTION bipa_session_children_readonly()",
    ),
    (
        "trg_proof_objects_readonly",
        "proof_objects",
        "BEFORE INSERT OR UPDATE OR DELETE ON proof_objects "
        "FOR EACH ROW EXECUTE FUNCTION bipa_session_children_readonly()",
    ),
    (
        "trg_package_proofs_no_truncate",
        "package_proofs",
        "BEFORE TRUNCATE ON package_proofs "
        "FOR EACH STATEMENT EXECUTE FUNCTION bipa_audit_append_only()",
    ),
    (
        "trg_proof_objects_no_truncate",
        "proof_objects",
        "BEFORE TRUNCATE ON proof_objects "
        "FOR EACH STATEMENT EXECUTE FUNCTION bipa_audit_append_only()",
    ),
)


def proof_install_statements() -> list[str]:
    statements = [history_guard(FROZEN_SESSION_COLUMNS + PROOF_SESSION_COLUMNS)]
    for name, table, spec in PROOF_TRIGGERS:
        statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        statements.append(f"CREATE TRIGGER {name} {spec}")
    return statements


def proof_drop_statements() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table, _ in PROOF_TRIGGERS]
    statements.append(history_guard(FROZEN_SESSION_COLUMNS))
    return statements


# 0005: recipient data has a lifetime (LGPD). A read-only session's rows may change in exactly
# one way: anonymisation. The trigger's arguments name the columns that identify a recipient;
# an UPDATE that sets `anonymized_at` (once), empties those columns (NULL or ''), gives an
# address its own placeholder key, and changes nothing else is let through. Anything else is
# refused as before.
ANONYMIZABLE: dict[str, tuple[str, ...]] = {
    "session_packages": ("recipient_name", "failure_reason", "raw_text", "scan_report"),
    "session_addresses": (
        "line",
        "city",
        "postal_code",
        "latitude",
        "longitude",
        "normalized_key",
        # 0007: the structured parts and how the place was found.
        "street",
        "number",
        "complement",
        "neighbourhood",
        "state",
        "geo_precision",
        "geo_provider",
        "geocoding_cache",
    ),
    "package_proofs": ("received_by", "note", "latitude", "longitude", "accuracy_m"),
    # The object is deleted from the store; its row keeps the facts (hash, size).
    "proof_objects": (),
}
ANONYMIZED_KEY = "anonymized:"


def children_readonly(*, anonymization: bool) -> str:
    """The guard of a read-only session's rows: as 0001 installed it, or with 0005's one
    exception, anonymisation."""
    exception = _ANONYMIZATION if anonymization else ""
    return _CHILDREN.replace("-- ANONYMIZATION --\n", exception).replace(
        "ANONYMIZED_KEY", ANONYMIZED_KEY
    )


_ANONYMIZATION = """\
        -- Nested, and through jsonb: plpgsql evaluates the whole condition, and tables
        -- without anonymisation (no trigger arguments) have no anonymized_at column.
        IF TG_OP = 'UPDATE' AND TG_NARGS > 0 THEN
            IF (to_jsonb(OLD) ->> 'anonymized_at') IS NULL
               AND (to_jsonb(NEW) ->> 'anonymized_at') IS NOT NULL THEN
                -- updated_at moves with any write; it says nothing about the recipient.
                cols := array_remove(TG_ARGV, '-') || ARRAY['anonymized_at', 'updated_at'];
                ok := (to_jsonb(OLD) - cols) = (to_jsonb(NEW) - cols);
                FOREACH c IN ARRAY array_remove(TG_ARGV, '-') LOOP
                    v := to_jsonb(NEW) ->> c;
                    IF NOT (v IS NULL OR v = ''
                            OR (c = 'normalized_key'
                                AND v = 'ANONYMIZED_KEY' || (to_jsonb(NEW) ->> 'id'))) THEN
                        ok := false;
                    END IF;
                END LOOP;
                IF ok THEN
                    RETURN NEW;
                END IF;
            END IF;
        END IF;
"""

_CHILDREN = """
CREATE OR REPLACE FUNCTION bipa_session_children_readonly() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sid uuid;
    st text;
    cols text[];
    c text;
    v text;
    ok boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        sid := OLD.session_id;
    ELSE
        sid := NEW.session_id;
    END IF;
    SELECT status::text INTO st FROM delivery_sessions WHERE id = sid;
    IF st IN ('COMPLETED', 'ARCHIVED') THEN
-- ANONYMIZATION --
        RAISE EXCEPTION '% of % refused: session % is read-only (%)', TG_OP, TG_TABLE_NAME, sid, st
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.session_id <> OLD.session_id THEN
        SELECT status::text INTO st FROM delivery_sessions WHERE id = OLD.session_id;
        IF st IN ('COMPLETED', 'ARCHIVED') THEN
            RAISE EXCEPTION 'moving rows out of read-only session % refused', OLD.session_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
"""


_CHILD_TRIGGERS = {
    "session_packages": "trg_packages_readonly",
    "session_addresses": "trg_addresses_readonly",
    "package_proofs": "trg_package_proofs_readonly",
    "proof_objects": "trg_proof_objects_readonly",
}


# What 0005 installed (0007's downgrade puts it back).
ANONYMIZABLE_0005: dict[str, tuple[str, ...]] = {
    **ANONYMIZABLE,
    "session_addresses": ANONYMIZABLE["session_addresses"][:6],
}


def anonymization_install_statements(
    columns: dict[str, tuple[str, ...]] | None = None,
) -> list[str]:
    """The guards with anonymisation; `columns`: what may be emptied, per table (default:
    today's ANONYMIZABLE; a column a table does not have yet is simply never set)."""
    columns = ANONYMIZABLE if columns is None else columns
    statements = [children_readonly(anonymization=True)]
    for table, trigger in _CHILD_TRIGGERS.items():
        args = ", ".join(f"'{c}'" for c in columns[table]) or "'-'"
        statements.append(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        statements.append(
            f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION bipa_session_children_readonly({args})"
        )
    return statements


def anonymization_drop_statements() -> list[str]:
    statements = [children_readonly(anonymization=False)]
    for table, trigger in _CHILD_TRIGGERS.items():
        statements.append(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        statements.append(
            f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION bipa_session_children_readonly()"
        )
    return statements
