"""Schema of the store.

Every entity table holds the entity's full state in ``data`` (its JSON snapshot, the source of
truth for loading it) plus the columns that are queried or indexed, derived from the snapshot on
every write. ``change`` and ``entity_version`` are the audit trail: one change per transaction,
one version per entity touched. Customer search keys that live in lists (identifications,
contact media, addresses) have tables of their own, rewritten with the customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
ID = 64
KEY = 254


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on SQLite (which stores text) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def _entity(name: str, *columns: Any, **kw: Any) -> Table:
    return Table(
        name,
        metadata,
        Column("id", String(ID), primary_key=True),
        Column("version", Integer, nullable=False),
        *columns,
        Column("updated_at", UtcDateTime, nullable=False),
        Column("data", Json, nullable=False),
        **kw,
    )


customer = _entity(
    "customer",
    Column("customer_number", String(32), nullable=False, unique=True),
    Column("party_kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("segment", String(32), nullable=False),
    Column("name_key", String(KEY), nullable=False, index=True),
    Column("birth_date", Date, index=True),
    # Derived from the party, for lists (revision 0010). 602: three name parts of at most 200.
    Column("display_name", String(602), nullable=False, server_default=""),
)

customer_identification = Table(
    "customer_identification",
    metadata,
    Column(
        "customer_id",
        String(ID),
        ForeignKey("customer.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("type", String(32), nullable=False),
    Column("value_key", String(64), nullable=False),
    Index("ix_customer_identification_value", "value_key", "type"),
)

customer_contact = Table(
    "customer_contact",
    metadata,
    Column(
        "customer_id",
        String(ID),
        ForeignKey("customer.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("type", String(16), nullable=False),
    Column("value_key", String(KEY), nullable=False, index=True),
)

customer_address = Table(
    "customer_address",
    metadata,
    Column(
        "customer_id",
        String(ID),
        ForeignKey("customer.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("role", String(16), nullable=False),
    Column("line_key", String(600), nullable=False, index=True),
    Column("postcode_key", String(16), nullable=False, index=True),
    Column("city_key", String(200), nullable=False, index=True),
    Column("country", String(2), nullable=False),
)

account = _entity(
    "account",
    Column("customer_id", String(ID), ForeignKey("customer.id"), nullable=False, index=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("parent_id", String(ID), ForeignKey("account.id"), index=True),
    Column("payment_responsible", Boolean, nullable=False),
    # Derived from the tree by the unit of work (adapter/store/payers.py): the nearest
    # payment-responsible ancestor-or-self, and the levels below the root.
    Column("payer_id", String(ID)),
    Column("level", Integer, nullable=False, server_default=text("0")),
)

contract = _entity(
    "contract",
    Column("customer_id", String(ID), ForeignKey("customer.id"), nullable=False, index=True),
    Column("account_id", String(ID), ForeignKey("account.id"), nullable=False, index=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
)

subscriber = _entity(
    "subscriber",
    Column("customer_id", String(ID), ForeignKey("customer.id"), nullable=False, index=True),
    Column("account_id", String(ID), ForeignKey("account.id"), nullable=False, index=True),
    Column("contract_id", String(ID), ForeignKey("contract.id"), nullable=False, index=True),
    Column("msisdn", String(16), nullable=False, index=True),
    Column("imsi", String(15), index=True),
    Column("iccid", String(22), index=True),
    Column("status", String(16), nullable=False),
    # A number may be recycled once its subscriber is deactivated, never shared while live.
    Index(
        "uq_subscriber_live_msisdn",
        "msisdn",
        unique=True,
        sqlite_where=text("status <> 'deactivated'"),
        postgresql_where=text("status <> 'deactivated'"),
    ),
)


def _owned(name: str, *columns: Any) -> Table:
    return _entity(
        name,
        Column("customer_id", String(ID), ForeignKey("customer.id"), nullable=False, index=True),
        Column("account_id", String(ID), ForeignKey("account.id"), nullable=False, index=True),
        *columns,
    )


service_assignment = _owned(
    "service_assignment",
    Column("contract_id", String(ID), ForeignKey("contract.id"), nullable=False, index=True),
    Column("subscriber_id", String(ID), ForeignKey("subscriber.id"), index=True),
    Column("service_code", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
)

discount_assignment = _owned(
    "discount_assignment",
    Column("contract_id", String(ID), ForeignKey("contract.id"), index=True),
    Column("subscriber_id", String(ID), ForeignKey("subscriber.id"), index=True),
    Column("level", String(16), nullable=False),
    Column("code", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
)

balance = _owned(
    "balance",
    Column("currency", String(3), nullable=False),
    Index("uq_balance_account_currency", "account_id", "currency", unique=True),
)

free_unit_bucket = _owned(
    "free_unit_bucket",
    Column("contract_id", String(ID), ForeignKey("contract.id"), nullable=False, index=True),
    Column("subscriber_id", String(ID), ForeignKey("subscriber.id"), index=True),
    Column("package", String(64), nullable=False),
    Column("period_start", Date, nullable=False),
)

usage_record = _owned(
    "usage_record",
    Column("contract_id", String(ID), ForeignKey("contract.id"), nullable=False),
    Column("subscriber_id", String(ID), ForeignKey("subscriber.id"), nullable=False),
    Column("start_time", UtcDateTime, nullable=False),
    Column("type", String(16), nullable=False),
    Column("change_id", BigInteger, ForeignKey("change.id"), nullable=False, index=True),
    Index("ix_usage_record_subscriber_time", "subscriber_id", "start_time"),
)

listing_suppression = _entity(
    "listing_suppression",
    Column("scope_type", String(16), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customer.id"), index=True),
    Column("account_id", String(ID), ForeignKey("account.id"), index=True),
    Column("subscriber_id", String(ID), ForeignKey("subscriber.id"), index=True),
    Column("group_name", String(64), index=True),
    Column("active", Boolean, nullable=False),
)

attribute_definition = _entity(
    "attribute_definition",
    Column("name", String(64), nullable=False, unique=True),
    Column("entity_kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("required", Boolean, nullable=False),
)

attribute_value = _entity(
    "attribute_value",
    Column("name", String(64), ForeignKey("attribute_definition.name"), nullable=False),
    Column("entity_kind", String(16), nullable=False),
    Column("entity_id", String(ID), nullable=False),
    Column("customer_id", String(ID), index=True),
    Column("value_key", String(KEY), index=True),
    Index("uq_attribute_value_target", "entity_kind", "entity_id", "name", unique=True),
)

# ------------------------------------------------------------------------------- audit trail

change = Table(
    "change",
    metadata,
    # The position in the hash chain, assigned under the chain lock: 1, 2, 3… without gaps.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("originating_user", String(200), nullable=False, index=True),
    Column("principal", String(200), nullable=False),
    Column("channel", String(200), nullable=False),
    Column("request_id", String(200), nullable=False, unique=True),
    Column("operation", String(100), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("summary", Json, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("length(originating_user) > 0", name="user_given"),
    CheckConstraint("length(principal) > 0", name="principal_given"),
    CheckConstraint("length(channel) > 0", name="channel_given"),
    CheckConstraint("length(request_id) > 0", name="request_given"),
)

entity_version = Table(
    "entity_version",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("change_id", BigInteger, ForeignKey("change.id"), nullable=False, index=True),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("op", String(8), nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime),
    Column("snapshot", Json, nullable=False),
    Column("diff", Json, nullable=False),
    Column("customer_id", String(ID)),
    Column("account_id", String(ID)),
    Column("contract_id", String(ID)),
    Column("subscriber_id", String(ID)),
    Index("uq_entity_version", "entity_type", "entity_id", "version", unique=True),
    Index("ix_entity_version_customer", "customer_id", "change_id"),
    Index("ix_entity_version_account", "account_id", "change_id"),
    Index("ix_entity_version_contract", "contract_id", "change_id"),
    Index("ix_entity_version_subscriber", "subscriber_id", "change_id"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("at", UtcDateTime),  # the last change's instant: the next one is never earlier
    CheckConstraint("id = 1", name="single_row"),
)

GENESIS_HASH = "0" * 64

# ----------------------------------------------------------------------------- requests

request = Table(
    "request",
    metadata,
    # The sender's idempotency key: one row per request ever received, whatever its outcome.
    Column("request_id", String(200), primary_key=True),
    # Order of receipt (PostgreSQL: an identity; SQLite: max + 1 under the write lock). One
    # customer's requests apply in this order.
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("operation", String(100), nullable=False),
    # The customer the request concerns (ordering key); no foreign key: it may name a
    # customer a pending request will create, or none that exists.
    Column("customer_id", String(ID)),
    Column("principal", String(200), nullable=False),
    Column("envelope", Json, nullable=False),  # as received: kept for replay and dead letters
    Column("status", String(16), nullable=False),
    Column("reason", Json),  # {"code", "message", "violations": [{field, rule, message}]}
    Column("result", Json),  # the handler's result: what the first outcome returns again
    Column("change_id", BigInteger, ForeignKey("change.id"), index=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("applied_at", UtcDateTime),
    Column("synced_at", UtcDateTime),
    Column("failed_at", UtcDateTime),
    Column("legacy_ids", Json),  # billing's ids, once synced
    Column("attempts", Integer, nullable=False),
    CheckConstraint("status IN ('received', 'applied', 'synced', 'failed')", name="status_known"),
    # A customer's requests still to apply, in order (the predecessors of a request).
    Index("ix_request_customer_pending", "customer_id", "status", "seq"),
    Index("ix_request_status", "status", "seq"),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("customer_id", String(ID), nullable=False),
    # Position in the customer's queue to billing, allocated under the audit chain's lock in
    # the transaction of the change: 1, 2, 3… per customer.
    Column("seq", BigInteger, nullable=False),
    Column("request_id", String(200), ForeignKey("request.request_id"), index=True),
    Column("change_id", BigInteger, ForeignKey("change.id"), nullable=False, index=True),
    Column("operation", String(64), nullable=False),  # the billing (CIL) operation
    Column("payload", Json, nullable=False),  # canonical entity kinds, ids and versions
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
    Index("uq_outbox_customer_seq", "customer_id", "seq", unique=True),
    # The next pending message of a customer, in order.
    Index("ix_outbox_customer_pending", "customer_id", "status", "seq"),
    # Customers with a message due.
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# ------------------------------------------------------------------ legacy sync (operational)
# Written by the sync to billing (adapter/sync/), not by units of work: operational data, not
# audited entities (no versions, no audit chain). Losing it loses nothing the CRM owns: a
# re-sync reads billing's ids back (CMS.RC6720 → CustomerRead/ContractRead).

legacy_link = Table(
    "legacy_link",
    metadata,
    # The canonical entity: account, contract, service_assignment or discount_assignment.
    Column("kind", String(32), primary_key=True),
    Column("entity_id", String(ID), primary_key=True),
    Column("customer_id", String(ID), nullable=False, index=True),
    # Billing's internal id (csId, coId, snCode, assignId) and public id (csIdPub, coIdPub,
    # snCodePub; none for a discount), as text whatever billing's type.
    Column("legacy_id", String(64), nullable=False),
    Column("public_id", String(64)),
    Column("ids", Json, nullable=False),  # as the inbound mapping gave them: cs_id, cs_id_pub…
    Column("linked_at", UtcDateTime, nullable=False),
)

# One drain per customer at a time: a lease, taken and renewed in short transactions (no
# store transaction stays open across a billing call) and released at the end; a drain that
# dies leaves it to expire.
sync_lease = Table(
    "sync_lease",
    metadata,
    Column("customer_id", String(ID), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# ------------------------------------------------------------------ billing push (operational)
# Events billing pushes to POST /soap/notifications (adapter/notifications/): one row per
# eventId ever received, written before the acknowledgement goes out (so an acknowledged event
# is never lost) and updated by the worker that applies it. The change it caused, if any, is in
# the audit trail (change_id); a rejected event keeps its reason here, never dropped.

inbound_event = Table(
    "inbound_event",
    metadata,
    Column("event_id", String(64), primary_key=True),  # billing's idempotency key
    Column("operation", String(64), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Json),  # {"code", "message"} when rejected or failed
    Column("payload", Json, nullable=False),  # the parsed notification body, not the XML
    Column("billing_user", String(64)),
    Column("change_id", BigInteger, ForeignKey("change.id"), index=True),
    Column("applied_at", UtcDateTime),
    CheckConstraint("status IN ('received', 'applied', 'rejected', 'failed')", name="status_known"),
    Index("ix_inbound_event_status", "status", "received_at"),
)

# ------------------------------------------------------------------ API access (operational)
# Users of the HTTP API (adapter/api/) and their bearer tokens. A token is stored only as the
# SHA-256 of its text (tokens are 256 random bits, so a fast hash is enough); the text is shown
# once, when issued. Revoking sets revoked_at; rows are never deleted, so that the audit trail's
# originating users keep a record of who they were.

api_user = Table(
    "api_user",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", String(32), primary_key=True),  # public: named in logs and `users revoke`
    Column("user_name", String(64), ForeignKey("api_user.name"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # hex SHA-256
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
)

# ------------------------------------------------------------------ reconciliation (operational)
# Written by the reconciliation with billing (adapter/reconcile/): one row per run, one per drift
# found. Operational data like the sync's: the repairs themselves are ordinary requests, audited
# as such (their ids are on the findings).

reconcile_run = Table(
    "reconcile_run",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("batch", Integer, nullable=False),  # customers asked for
    Column("customer_id", String(ID)),  # a run of one named customer (no cursor move)
    Column("checked", Integer, nullable=False),  # customers compared with billing
    Column("skipped", Integer, nullable=False),  # customers with messages still in the outbox
    Column("drift", Integer, nullable=False),  # findings this run saw (new or still open)
    Column("status", String(16), nullable=False),
    Column("error", Text),  # why a run stopped (billing unreachable…)
    # The round-robin cursor: the last customer (by id) this run checked or skipped; the next
    # batch starts after it, wrapping around.
    Column("last_customer", String(ID)),
    Column("principal", String(200), nullable=False),
    CheckConstraint("status IN ('running', 'completed', 'partial', 'failed')", name="status_known"),
    Index("ix_reconcile_run_started", "started_at"),
)

reconcile_finding = Table(
    "reconcile_finding",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", BigInteger, ForeignKey("reconcile_run.id"), nullable=False, index=True),
    Column("last_run_id", BigInteger, nullable=False),  # the latest run that still saw it
    Column("customer_id", String(ID), nullable=False),
    Column("entity_kind", String(32), nullable=False),
    Column("entity_id", String(ID)),  # none for something only billing has
    Column("legacy_id", String(64)),
    Column("field", String(64), nullable=False),
    Column("crm_value", Json),
    Column("billing_value", Json),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("repair_request_id", String(200)),
    Column("found_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("note", Text),
    CheckConstraint(
        "kind IN ('missing_in_billing', 'field_mismatch', 'status_mismatch', 'unknown_in_billing')",
        name="kind_known",
    ),
    CheckConstraint("state IN ('open', 'repaired', 'resolved', 'ignored')", name="state_known"),
    Index("ix_reconcile_finding_open", "state", "customer_id"),
)
