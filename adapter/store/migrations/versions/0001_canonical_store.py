"""canonical store

Revision ID: 0001
Revises:
Create Date: 2026-11-26 00:33:26.234493
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribute_definition",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribute_definition")),
        sa.UniqueConstraint("name", name=op.f("uq_attribute_definition_name")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "change",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("originating_user", sa.String(length=200), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("length(channel) > 0", name=op.f("ck_change_channel_given")),
        sa.CheckConstraint("length(originating_user) > 0", name=op.f("ck_change_user_given")),
        sa.CheckConstraint("length(principal) > 0", name=op.f("ck_change_principal_given")),
        sa.CheckConstraint("length(request_id) > 0", name=op.f("ck_change_request_given")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change")),
        sa.UniqueConstraint("request_id", name=op.f("uq_change_request_id")),
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_change_originating_user"), ["originating_user"], unique=False
        )

    op.create_table(
        "customer",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_number", sa.String(length=32), nullable=False),
        sa.Column("party_kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("name_key", sa.String(length=254), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("customer_number", name=op.f("uq_customer_customer_number")),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_birth_date"), ["birth_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_name_key"), ["name_key"], unique=False)

    op.create_table(
        "account",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("payment_responsible", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_account_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["account.id"], name=op.f("fk_account_parent_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("number", name=op.f("uq_account_number")),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "attribute_value",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("value_key", sa.String(length=254), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["name"],
            ["attribute_definition.name"],
            name=op.f("fk_attribute_value_name_attribute_definition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribute_value")),
    )
    with op.batch_alter_table("attribute_value", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attribute_value_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attribute_value_value_key"), ["value_key"], unique=False
        )
        batch_op.create_index(
            "uq_attribute_value_target", ["entity_kind", "entity_id", "name"], unique=True
        )

    op.create_table(
        "customer_address",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("line_key", sa.String(length=600), nullable=False),
        sa.Column("postcode_key", sa.String(length=16), nullable=False),
        sa.Column("city_key", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_address_customer_id_customer"),
            ondelete="CASCADE",
        ),
    )
    with op.batch_alter_table("customer_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_address_city_key"), ["city_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_address_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_address_line_key"), ["line_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_address_postcode_key"), ["postcode_key"], unique=False
        )

    op.create_table(
        "customer_contact",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("value_key", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_contact_customer_id_customer"),
            ondelete="CASCADE",
        ),
    )
    with op.batch_alter_table("customer_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_contact_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_contact_value_key"), ["value_key"], unique=False
        )

    op.create_table(
        "customer_identification",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("value_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_identification_customer_id_customer"),
            ondelete="CASCADE",
        ),
    )
    with op.batch_alter_table("customer_identification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_identification_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_customer_identification_value", ["value_key", "type"], unique=False
        )

    op.create_table(
        "entity_version",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "diff",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("contract_id", sa.String(length=64), nullable=True),
        sa.Column("subscriber_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"], ["change.id"], name=op.f("fk_entity_version_change_id_change")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_version")),
    )
    with op.batch_alter_table("entity_version", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entity_version_account", ["account_id", "change_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_entity_version_change_id"), ["change_id"], unique=False
        )
        batch_op.create_index(
            "ix_entity_version_contract", ["contract_id", "change_id"], unique=False
        )
        batch_op.create_index(
            "ix_entity_version_customer", ["customer_id", "change_id"], unique=False
        )
        batch_op.create_index(
            "ix_entity_version_subscriber", ["subscriber_id", "change_id"], unique=False
        )
        batch_op.create_index(
            "uq_entity_version", ["entity_type", "entity_id", "version"], unique=True
        )

    op.create_table(
        "balance",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_balance_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_balance_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance")),
    )
    with op.batch_alter_table("balance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_balance_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_balance_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            "uq_balance_account_currency", ["account_id", "currency"], unique=True
        )

    op.create_table(
        "contract",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_contract_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_contract_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract")),
        sa.UniqueConstraint("number", name=op.f("uq_contract_number")),
    )
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contract_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "subscriber",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("imsi", sa.String(length=15), nullable=True),
        sa.Column("iccid", sa.String(length=22), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_subscriber_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=op.f("fk_subscriber_contract_id_contract")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_subscriber_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber")),
    )
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriber_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_subscriber_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriber_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subscriber_iccid"), ["iccid"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriber_imsi"), ["imsi"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriber_msisdn"), ["msisdn"], unique=False)
        batch_op.create_index(
            "uq_subscriber_live_msisdn",
            ["msisdn"],
            unique=True,
            sqlite_where=sa.text("status <> 'deactivated'"),
            postgresql_where=sa.text("status <> 'deactivated'"),
        )

    op.create_table(
        "discount_assignment",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=True),
        sa.Column("subscriber_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_discount_assignment_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_discount_assignment_contract_id_contract"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_discount_assignment_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_discount_assignment_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_assignment")),
    )
    with op.batch_alter_table("discount_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discount_assignment_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_discount_assignment_code"), ["code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_discount_assignment_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_discount_assignment_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_discount_assignment_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "free_unit_bucket",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.String(length=64), nullable=True),
        sa.Column("package", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_free_unit_bucket_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=op.f("fk_free_unit_bucket_contract_id_contract")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_free_unit_bucket_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_free_unit_bucket_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_free_unit_bucket")),
    )
    with op.batch_alter_table("free_unit_bucket", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_free_unit_bucket_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_free_unit_bucket_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_free_unit_bucket_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_free_unit_bucket_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "listing_suppression",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scope_type", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("subscriber_id", sa.String(length=64), nullable=True),
        sa.Column("group_name", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_listing_suppression_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_listing_suppression_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_listing_suppression_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_suppression")),
    )
    with op.batch_alter_table("listing_suppression", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listing_suppression_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_listing_suppression_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_listing_suppression_group_name"), ["group_name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_listing_suppression_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "service_assignment",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.String(length=64), nullable=True),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_service_assignment_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_service_assignment_contract_id_contract"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_service_assignment_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_service_assignment_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_assignment")),
    )
    with op.batch_alter_table("service_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_assignment_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_assignment_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_assignment_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_assignment_service_code"), ["service_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_assignment_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "usage_record",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.String(length=64), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_usage_record_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["change_id"], ["change.id"], name=op.f("fk_usage_record_change_id_change")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=op.f("fk_usage_record_contract_id_contract")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_usage_record_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_usage_record_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_record")),
    )
    with op.batch_alter_table("usage_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_record_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_usage_record_change_id"), ["change_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_usage_record_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_usage_record_subscriber_time", ["subscriber_id", "start_time"], unique=False
        )

    _append_only_audit()
    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )


def _append_only_audit() -> None:
    """The change log refuses UPDATE and DELETE at the database, so that only someone who drops
    the trigger can edit it, and ``crm-adapter audit verify`` still sees what they did."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION crm_refuse_change_edit() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'the change log is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER change_append_only BEFORE UPDATE OR DELETE ON change "
            "FOR EACH ROW EXECUTE FUNCTION crm_refuse_change_edit()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER change_append_only_{event.lower()} BEFORE {event} ON change "
                "BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END"
            )


def _drop_append_only_audit() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS change_append_only ON change")
        op.execute("DROP FUNCTION IF EXISTS crm_refuse_change_edit()")
    else:
        op.execute("DROP TRIGGER IF EXISTS change_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS change_append_only_delete")


def downgrade() -> None:
    _drop_append_only_audit()
    with op.batch_alter_table("usage_record", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_record_subscriber_time")
        batch_op.drop_index(batch_op.f("ix_usage_record_customer_id"))
        batch_op.drop_index(batch_op.f("ix_usage_record_change_id"))
        batch_op.drop_index(batch_op.f("ix_usage_record_account_id"))

    op.drop_table("usage_record")
    with op.batch_alter_table("service_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_assignment_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_service_assignment_service_code"))
        batch_op.drop_index(batch_op.f("ix_service_assignment_customer_id"))
        batch_op.drop_index(batch_op.f("ix_service_assignment_contract_id"))
        batch_op.drop_index(batch_op.f("ix_service_assignment_account_id"))

    op.drop_table("service_assignment")
    with op.batch_alter_table("listing_suppression", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listing_suppression_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_listing_suppression_group_name"))
        batch_op.drop_index(batch_op.f("ix_listing_suppression_customer_id"))
        batch_op.drop_index(batch_op.f("ix_listing_suppression_account_id"))

    op.drop_table("listing_suppression")
    with op.batch_alter_table("free_unit_bucket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_free_unit_bucket_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_free_unit_bucket_customer_id"))
        batch_op.drop_index(batch_op.f("ix_free_unit_bucket_contract_id"))
        batch_op.drop_index(batch_op.f("ix_free_unit_bucket_account_id"))

    op.drop_table("free_unit_bucket")
    with op.batch_alter_table("discount_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discount_assignment_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_discount_assignment_customer_id"))
        batch_op.drop_index(batch_op.f("ix_discount_assignment_contract_id"))
        batch_op.drop_index(batch_op.f("ix_discount_assignment_code"))
        batch_op.drop_index(batch_op.f("ix_discount_assignment_account_id"))

    op.drop_table("discount_assignment")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_subscriber_live_msisdn",
            sqlite_where=sa.text("status <> 'deactivated'"),
            postgresql_where=sa.text("status <> 'deactivated'"),
        )
        batch_op.drop_index(batch_op.f("ix_subscriber_msisdn"))
        batch_op.drop_index(batch_op.f("ix_subscriber_imsi"))
        batch_op.drop_index(batch_op.f("ix_subscriber_iccid"))
        batch_op.drop_index(batch_op.f("ix_subscriber_customer_id"))
        batch_op.drop_index(batch_op.f("ix_subscriber_contract_id"))
        batch_op.drop_index(batch_op.f("ix_subscriber_account_id"))

    op.drop_table("subscriber")
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_customer_id"))
        batch_op.drop_index(batch_op.f("ix_contract_account_id"))

    op.drop_table("contract")
    with op.batch_alter_table("balance", schema=None) as batch_op:
        batch_op.drop_index("uq_balance_account_currency")
        batch_op.drop_index(batch_op.f("ix_balance_customer_id"))
        batch_op.drop_index(batch_op.f("ix_balance_account_id"))

    op.drop_table("balance")
    with op.batch_alter_table("entity_version", schema=None) as batch_op:
        batch_op.drop_index("uq_entity_version")
        batch_op.drop_index("ix_entity_version_subscriber")
        batch_op.drop_index("ix_entity_version_customer")
        batch_op.drop_index("ix_entity_version_contract")
        batch_op.drop_index(batch_op.f("ix_entity_version_change_id"))
        batch_op.drop_index("ix_entity_version_account")

    op.drop_table("entity_version")
    with op.batch_alter_table("customer_identification", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_identification_value")
        batch_op.drop_index(batch_op.f("ix_customer_identification_customer_id"))

    op.drop_table("customer_identification")
    with op.batch_alter_table("customer_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_contact_value_key"))
        batch_op.drop_index(batch_op.f("ix_customer_contact_customer_id"))

    op.drop_table("customer_contact")
    with op.batch_alter_table("customer_address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_address_postcode_key"))
        batch_op.drop_index(batch_op.f("ix_customer_address_line_key"))
        batch_op.drop_index(batch_op.f("ix_customer_address_customer_id"))
        batch_op.drop_index(batch_op.f("ix_customer_address_city_key"))

    op.drop_table("customer_address")
    with op.batch_alter_table("attribute_value", schema=None) as batch_op:
        batch_op.drop_index("uq_attribute_value_target")
        batch_op.drop_index(batch_op.f("ix_attribute_value_value_key"))
        batch_op.drop_index(batch_op.f("ix_attribute_value_customer_id"))

    op.drop_table("attribute_value")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_parent_id"))
        batch_op.drop_index(batch_op.f("ix_account_customer_id"))

    op.drop_table("account")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_name_key"))
        batch_op.drop_index(batch_op.f("ix_customer_birth_date"))

    op.drop_table("customer")
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_originating_user"))
        batch_op.drop_index(batch_op.f("ix_change_at"))

    op.drop_table("change")
    op.drop_table("audit_head")
    op.drop_table("attribute_definition")
