"""reconciliation runs and their drift findings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 07:00:00

``reconcile_run`` records each comparison of a batch of customers with billing (and keeps the
round-robin cursor), ``reconcile_finding`` each drift found, its state and the request that
repaired it (``adapter/reconcile/``): operational data, not audited entities.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reconcile_run",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("drift", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("last_customer", sa.String(length=64), nullable=True),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'partial', 'failed')",
            name=op.f("ck_reconcile_run_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_run")),
    )
    op.create_index("ix_reconcile_run_started", "reconcile_run", ["started_at"], unique=False)
    op.create_table(
        "reconcile_finding",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("last_run_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("entity_kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("legacy_id", sa.String(length=64), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("crm_value", _json(), nullable=True),
        sa.Column("billing_value", _json(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("repair_request_id", sa.String(length=200), nullable=True),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('missing_in_billing', 'field_mismatch', 'status_mismatch', "
            "'unknown_in_billing')",
            name=op.f("ck_reconcile_finding_kind_known"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'repaired', 'resolved', 'ignored')",
            name=op.f("ck_reconcile_finding_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["reconcile_run.id"], name=op.f("fk_reconcile_finding_run_id_reconcile_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_finding")),
    )
    op.create_index(
        op.f("ix_reconcile_finding_run_id"), "reconcile_finding", ["run_id"], unique=False
    )
    op.create_index(
        "ix_reconcile_finding_open", "reconcile_finding", ["state", "customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_reconcile_finding_open", table_name="reconcile_finding")
    op.drop_index(op.f("ix_reconcile_finding_run_id"), table_name="reconcile_finding")
    op.drop_table("reconcile_finding")
    op.drop_index("ix_reconcile_run_started", table_name="reconcile_run")
    op.drop_table("reconcile_run")
