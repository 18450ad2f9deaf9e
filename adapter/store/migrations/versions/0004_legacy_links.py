"""legacy links and sync leases

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 09:00:00

``legacy_link`` keeps billing's ids per canonical entity and ``sync_lease`` the one drain per
customer of the sync to billing (``adapter/sync/``): operational data, written by the sync,
not audited entities.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "legacy_link",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("legacy_id", sa.String(length=64), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=True),
        sa.Column("ids", _json(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "entity_id", name=op.f("pk_legacy_link")),
    )
    op.create_index(
        op.f("ix_legacy_link_customer_id"), "legacy_link", ["customer_id"], unique=False
    )
    op.create_table(
        "sync_lease",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_sync_lease")),
    )


def downgrade() -> None:
    op.drop_table("sync_lease")
    op.drop_index(op.f("ix_legacy_link_customer_id"), table_name="legacy_link")
    op.drop_table("legacy_link")
