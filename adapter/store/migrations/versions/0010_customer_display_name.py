"""Each customer's display name beside its document, and on PostgreSQL an index of the search's
list items

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 19:10:00

A search's page of 50 customers showed each one's display name, which only the customer's
document (``customer.data``, JSON) held: every item read and decoded the whole document. At a
million seeded customers (a base five times the memory) those 50 reads were most of a fuzzy
search (p50 18 ms, p95 35 ms of it). This revision adds:

``customer.display_name``
    the party's display name (an organisation's name; an individual's given, middle and family
    names joined by spaces), written by every writer with the other derived columns
    (adapter/store/entities.py) and filled here from the documents (on PostgreSQL with
    revision 0009's update trigger held off for the fill, which changes no name).
``ix_customer_item`` (PostgreSQL only)
    ``customer (id) INCLUDE`` every column of a search's list item, so that a page of ids is
    read from this index alone (an index-only scan; the table's visibility map must be set,
    which autovacuum does, and :func:`adapter.store.database.after_load` right after a bulk
    load) instead of 50 random rows of the table.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Copies of the display name as adapter.domain.model computes it when this revision was
# written (names are stripped and never empty, so joining the present ones with spaces is it).
_FILL = {
    "postgresql": """
        UPDATE customer SET display_name = CASE
            WHEN data->'party'->>'kind' = 'organization' THEN data->'party'->>'name'
            ELSE concat_ws(' ', data->'party'->>'given_name', data->'party'->>'middle_name',
                           data->'party'->>'family_name')
        END
    """,
    "sqlite": """
        UPDATE customer SET display_name = CASE
            WHEN json_extract(data, '$.party.kind') = 'organization'
                THEN json_extract(data, '$.party.name')
            ELSE ltrim(coalesce(' ' || json_extract(data, '$.party.given_name'), '')
                       || coalesce(' ' || json_extract(data, '$.party.middle_name'), '')
                       || coalesce(' ' || json_extract(data, '$.party.family_name'), ''), ' ')
        END
    """,
}

_NAME_WORDS_UPDATE = "customer_name_words_update"  # revision 0009's, enabled ALWAYS
ITEM_COLUMNS = ("customer_number", "party_kind", "status", "segment", "birth_date", "display_name")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # NOT NULL with a default of '' is instant on both (no rewrite); the fill sets every row.
    # 602: three name parts of at most 200 characters and two spaces.
    op.execute("ALTER TABLE customer ADD COLUMN display_name VARCHAR(602) NOT NULL DEFAULT ''")
    if dialect == "postgresql":
        # The fill changes no name: revision 0009's trigger on updates of customer would only
        # compare every old row with its new one (two transition tables of the whole table).
        op.execute(f"ALTER TABLE customer DISABLE TRIGGER {_NAME_WORDS_UPDATE}")
        op.execute(_FILL[dialect])
        op.execute(f"ALTER TABLE customer ENABLE ALWAYS TRIGGER {_NAME_WORDS_UPDATE}")
    else:
        op.execute(_FILL[dialect])
    if dialect == "postgresql":
        columns = ", ".join(ITEM_COLUMNS)
        op.execute(f"CREATE INDEX ix_customer_item ON customer (id) INCLUDE ({columns})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_customer_item")
    op.execute("ALTER TABLE customer DROP COLUMN display_name")
