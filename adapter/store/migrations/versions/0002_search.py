"""customer search

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00

The customer search (``adapter/queries/search.py``) uses the indexes of 0001 for its exact keys.
What this revision adds is dialect-specific, so it is created here with plain SQL and kept out of
``tables.metadata`` (the schema comparison in ``tests/integration/test_migrations.py`` skips it
by name):

PostgreSQL
    the ``pg_trgm`` extension (trusted since PostgreSQL 13: the database owner may create it) and
    GIN trigram indexes on ``customer.name_key`` (name prefixes and typo-tolerant names) and on
    ``customer_address.line_key`` (address fragments anywhere in the lines). The extension is
    left installed on downgrade: other objects may use it.

SQLite
    ``customer_name_fts``, an FTS5 table with the trigram tokenizer over ``customer.name_key``,
    kept in step by triggers on ``customer``. It stores the customer id as an unindexed column
    rather than borrowing the customer's rowid, which ``VACUUM`` may renumber (``customer`` has a
    text primary key). A trigger finds a customer's row through the index by the old name itself
    (a trigram phrase query); names under three characters, which yield no trigram, fall back to
    a scan of the FTS table. A later batch migration that rebuilds ``customer`` on SQLite drops
    these triggers with the old table and must create them again.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The old name as an FTS5 phrase (its double quotes doubled) finds, through the index, the rows
# that contain it, among them the customer's own. A name under three characters has no trigram
# to look up: its row is found by a scan, which SQLite skips for other names (a condition on
# ``old`` alone is tested once, before any row is read).
_DELETE_OLD_NAME = """
    DELETE FROM customer_name_fts
    WHERE rowid IN (
        SELECT rowid FROM customer_name_fts
        WHERE customer_name_fts MATCH '"' || replace(old.name_key, '"', '""') || '"'
    )
    AND customer_id = old.id;
    DELETE FROM customer_name_fts WHERE length(old.name_key) < 3 AND customer_id = old.id;
"""

_INSERT_NEW_NAME = """
    INSERT INTO customer_name_fts (customer_id, name_key) VALUES (new.id, new.name_key);
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_customer_name_key_trgm ON customer USING gin (name_key gin_trgm_ops)"
        )
        op.execute(
            "CREATE INDEX ix_customer_address_line_key_trgm ON customer_address "
            "USING gin (line_key gin_trgm_ops)"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE customer_name_fts "
        "USING fts5(customer_id UNINDEXED, name_key, tokenize='trigram')"
    )
    op.execute(
        "INSERT INTO customer_name_fts (customer_id, name_key) SELECT id, name_key FROM customer"
    )
    op.execute(
        f"CREATE TRIGGER customer_name_fts_insert AFTER INSERT ON customer BEGIN "
        f"{_INSERT_NEW_NAME} END"
    )
    op.execute(
        "CREATE TRIGGER customer_name_fts_update AFTER UPDATE OF id, name_key ON customer "
        "WHEN old.id IS NOT new.id OR old.name_key IS NOT new.name_key BEGIN "
        f"{_DELETE_OLD_NAME} {_INSERT_NEW_NAME} END"
    )
    op.execute(
        f"CREATE TRIGGER customer_name_fts_delete AFTER DELETE ON customer BEGIN "
        f"{_DELETE_OLD_NAME} END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_customer_address_line_key_trgm")
        op.execute("DROP INDEX IF EXISTS ix_customer_name_key_trgm")
        return
    for trigger in ("delete", "update", "insert"):
        op.execute(f"DROP TRIGGER IF EXISTS customer_name_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS customer_name_fts")
