"""requests and outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 09:00:00

``request`` records every provisioning request received (its envelope, status, outcome and
order of receipt) and ``outbox`` what billing must be told, in order per customer, written in
the transaction of the change (``adapter/requests/``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "request",
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("envelope", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", _json(), nullable=True),
        sa.Column("result", _json(), nullable=True),
        sa.Column("change_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legacy_ids", _json(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('received', 'applied', 'synced', 'failed')",
            name=op.f("ck_request_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["change_id"], ["change.id"], name=op.f("fk_request_change_id_change")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request")),
        sa.UniqueConstraint("seq", name=op.f("uq_request_seq")),
    )
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_change_id"), ["change_id"], unique=False)
        batch_op.create_index(
            "ix_request_customer_pending", ["customer_id", "status", "seq"], unique=False
        )
        batch_op.create_index("ix_request_status", ["status", "seq"], unique=False)

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["change_id"], ["change.id"], name=op.f("fk_outbox_change_id_change")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["request.request_id"], name=op.f("fk_outbox_request_id_request")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_change_id"), ["change_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_request_id"), ["request_id"], unique=False)
        batch_op.create_index("uq_outbox_customer_seq", ["customer_id", "seq"], unique=True)
        batch_op.create_index(
            "ix_outbox_customer_pending", ["customer_id", "status", "seq"], unique=False
        )
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("request")
