"""Each account's payer and level, kept beside the tree

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:10:00

``account.payer_id`` (the nearest payment-responsible ancestor-or-self, NULL when nobody pays)
and ``account.level`` (levels below the root), derived data the unit of work keeps in step with
every change to the tree (adapter/store/payers.py): the payer of an account 10,000 levels down
is then one row instead of a 10,000-step walk. Filled here by one walk of the whole forest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# A copy of adapter.store.payers' walk as it was when this revision was written: a migration
# must keep doing what it did whatever the code later becomes.
FILL = sa.text(
    """
    WITH RECURSIVE walk(id, payer, lvl) AS (
        SELECT id, CASE WHEN payment_responsible THEN id END, 0
        FROM account WHERE parent_id IS NULL
        UNION ALL
        SELECT c.id, CASE WHEN c.payment_responsible THEN c.id ELSE w.payer END, w.lvl + 1
        FROM account c JOIN walk w ON c.parent_id = w.id
    )
    UPDATE account SET payer_id = walk.payer, level = walk.lvl
    FROM walk WHERE account.id = walk.id
    """
)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("account", sa.Column("payer_id", sa.String(length=64), nullable=True))
    op.add_column(
        "account",
        sa.Column("level", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.get_bind().execute(FILL)


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("level")
        batch.drop_column("payer_id")
