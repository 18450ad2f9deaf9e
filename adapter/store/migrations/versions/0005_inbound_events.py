"""inbound events of the billing push endpoint

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12 09:00:00

``inbound_event`` holds every notification billing pushed to ``POST /soap/notifications``,
stored before it is acknowledged and then applied (or rejected, with a reason) by a worker.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbound_event",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", _json(), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("billing_user", sa.String(length=64), nullable=True),
        sa.Column("change_id", sa.BigInteger(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'applied', 'rejected', 'failed')",
            name=op.f("ck_inbound_event_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["change_id"], ["change.id"], name=op.f("fk_inbound_event_change_id_change")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_inbound_event")),
    )
    op.create_index(
        op.f("ix_inbound_event_change_id"), "inbound_event", ["change_id"], unique=False
    )
    op.create_index(
        "ix_inbound_event_status", "inbound_event", ["status", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_event_status", table_name="inbound_event")
    op.drop_index(op.f("ix_inbound_event_change_id"), table_name="inbound_event")
    op.drop_table("inbound_event")
