"""The words of customers' names, for typo-tolerant search on PostgreSQL

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 13:10:00

A fuzzy search for one word ("Mulr") compared the typed word with every customer's whole name
through the trigram index of 0002: on a million customers with common names that index finds
tens of thousands of close names (all the Müllers), every one of which was read, scored and
sorted for a page of 50. This revision keeps, on PostgreSQL only:

``name_word``
    the vocabulary: every distinct word of a name (a run of letters and digits of
    ``customer.name_key``, as ``pg_trgm`` splits words), with a GIN trigram index. A typo is
    matched against these few hundred thousand words instead of a million names.
``customer_name_word``
    one row per word of each customer's name, keyed (word, name_key, customer_id): the
    customers with a given word come out of the primary key already in the search's order.

Both are derived from ``customer.name_key`` and kept in step by statement triggers on
``customer`` (insert, and update where the name changed), enabled ALWAYS so that they run even
where the bulk path skips the foreign keys' triggers: every writer (the unit of work, the
seed's and the import's ``COPY``) keeps them without knowing of them; a deleted
customer's rows go with it (foreign key, cascade). A word no customer uses any more stays in
``name_word`` (deleting it could race with a concurrent insert of the same word); the search
ignores such words. Created with plain SQL and kept out of ``tables.metadata``, like 0002's
objects. SQLite keeps 0002's FTS5 table, which serves the same search at its scale.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Words as pg_trgm finds them: runs of alphanumeric characters (``name_key`` is already lower
# case and without accents). ``{source}`` names the new rows ``n``.
_ADD_WORDS = """
    INSERT INTO customer_name_word (word, name_key, customer_id)
    SELECT DISTINCT w, n.name_key, n.id
    FROM {source}, regexp_split_to_table(n.name_key, '[^[:alnum:]]+') w
    WHERE w <> '' {where};
    INSERT INTO name_word (word)
    SELECT DISTINCT w FROM {source}, regexp_split_to_table(n.name_key, '[^[:alnum:]]+') w
    WHERE w <> '' {where}
    ON CONFLICT DO NOTHING;
"""
# Only customers whose name changed: their old words go, their new ones come.
_DROP_OLD_WORDS = """
    DELETE FROM customer_name_word cw USING old_rows o JOIN new_rows n ON n.id = o.id
    WHERE cw.customer_id = o.id AND n.name_key IS DISTINCT FROM o.name_key;
"""
FUNCTIONS = {
    "customer_name_words_insert": _ADD_WORDS.format(source="new_rows n", where=""),
    "customer_name_words_update": "\n".join(
        (
            _DROP_OLD_WORDS,
            _ADD_WORDS.format(
                source="new_rows n JOIN old_rows o ON o.id = n.id",
                where="AND n.name_key IS DISTINCT FROM o.name_key",
            ),
        )
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE name_word (word text PRIMARY KEY)")
    # Without fastupdate: new words are few once a base is loaded, and a search then never
    # reads a pending list (which made the planner price the index above a scan of every word).
    op.execute(
        "CREATE INDEX ix_name_word_trgm ON name_word USING gin (word gin_trgm_ops)"
        " WITH (fastupdate = off)"
    )
    op.execute(
        "CREATE TABLE customer_name_word ("
        " word text NOT NULL,"
        " name_key varchar(254) NOT NULL,"
        " customer_id varchar(64) NOT NULL"
        "  CONSTRAINT fk_customer_name_word_customer_id_customer"
        "  REFERENCES customer (id) ON DELETE CASCADE,"
        " CONSTRAINT pk_customer_name_word PRIMARY KEY (word, name_key, customer_id))"
    )
    op.execute("CREATE INDEX ix_customer_name_word_customer_id ON customer_name_word (customer_id)")
    for name, body in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{body}\nRETURN NULL;\nEND\n$$"
        )
    op.execute(
        "CREATE TRIGGER customer_name_words_insert AFTER INSERT ON customer"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION customer_name_words_insert()"
    )
    op.execute(
        "CREATE TRIGGER customer_name_words_update AFTER UPDATE ON customer"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION customer_name_words_update()"
    )
    # ALWAYS: the bulk path writes with ``session_replication_role = replica`` to skip the
    # foreign keys' triggers (adapter/store/uow.py); these must run all the same.
    for name in FUNCTIONS:
        op.execute(f"ALTER TABLE customer ENABLE ALWAYS TRIGGER {name}")
    op.execute(_ADD_WORDS.format(source="customer n", where=""))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in FUNCTIONS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON customer")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute("DROP TABLE IF EXISTS customer_name_word")
    op.execute("DROP TABLE IF EXISTS name_word")
