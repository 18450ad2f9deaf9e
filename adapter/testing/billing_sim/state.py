"""The simulator's own state: a SQLite file of its own (SQLAlchemy Core, its own ``MetaData``),
apart from the adapter's store, so that it survives a restart and can be wiped for tests.

Instants are stored as ISO 8601 text in UTC (``2024-05-17T08:30:00Z``), which sorts like the
instants themselves; money and decimals as text, so that no value passes through a float.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)

SCHEMA_VERSION = "1"

metadata = MetaData()

meta = Table(
    "sim_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(200), nullable=False),
)

sequence = Table(
    "sim_sequence",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)

# First value of each id series: far apart, so that an id of one kind is never mistaken for
# another in a test or a log.
SEQUENCE_START = {
    "customer": 100_001,
    "contract": 500_001,
    "assignment": 700_001,
    "udr": 9_000_000_001,
}

customer = Table(
    "customer",
    metadata,
    Column("cs_id", BigInteger, primary_key=True, autoincrement=False),
    Column("cs_id_pub", String(32), nullable=False, unique=True),
    Column("parent_cs_id", BigInteger, ForeignKey("customer.cs_id"), index=True),
    Column("payment_resp", Boolean, nullable=False),
    Column("business_unit", String(64), nullable=False),
    Column("party_type", String(1), nullable=False),
    Column("first_name", String(120)),
    Column("last_name", String(120), index=True),
    Column("company_name", String(120), index=True),
    Column("legal_form", String(64)),
    Column("birth_date", String(10)),
    Column("nationality", String(2)),
    Column("email", String(120), index=True),
    Column("phone", String(64)),
    Column("tax_no", String(64), index=True),
    Column("id_no", String(64), index=True),
    Column("passport_no", String(64)),
    Column("company_reg_no", String(64)),
    Column("segment", String(64)),
    Column("bill_cycle", String(64)),
    Column("payment_method", String(1)),
    Column("credit_limit_amount", String(40)),
    Column("credit_limit_currency", String(3)),
    Column("cs_status", String(1), nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
)

address = Table(
    "address",
    metadata,
    Column("cs_id", BigInteger, ForeignKey("customer.cs_id"), primary_key=True),
    Column("adr_seq", Integer, primary_key=True, autoincrement=False),
    Column("roles", String(5), nullable=False),  # e.g. "BR": the roles in given order
    Column("lines", Text, nullable=False),  # JSON array of up to four lines
    Column("zip", String(64), nullable=False),
    Column("city", String(120), nullable=False),
    Column("state", String(64)),
    Column("country", String(2), nullable=False),
)

info_field = Table(
    "info_field",
    metadata,
    Column("cs_id", BigInteger, ForeignKey("customer.cs_id"), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

contract = Table(
    "contract",
    metadata,
    Column("co_id", BigInteger, primary_key=True, autoincrement=False),
    Column("co_id_pub", String(32), nullable=False, unique=True),
    Column("cs_id", BigInteger, ForeignKey("customer.cs_id"), nullable=False, index=True),
    Column("rp_code", String(32), nullable=False),
    Column("dn_num", String(15), nullable=False, index=True),
    Column("sm_num", String(64)),
    Column("imsi", String(64)),
    Column("co_status", String(1), nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
)
# BSCS keeps a number free again once its contract is deactivated; the handler checks first
# (for a clear fault), the index makes the rule hold whatever the handler does.
Index(
    "ux_contract_active_dn_num",
    contract.c.dn_num,
    unique=True,
    sqlite_where=contract.c.co_status != "d",
)

contract_status = Table(
    "contract_status",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("co_id", BigInteger, ForeignKey("contract.co_id"), nullable=False, index=True),
    Column("co_status", String(1), nullable=False),
    Column("valid_from", String(20), nullable=False),
    Column("rs_code", String(32)),
)

contract_service = Table(
    "contract_service",
    metadata,
    Column("co_id", BigInteger, ForeignKey("contract.co_id"), primary_key=True),
    Column("sn_code", BigInteger, primary_key=True, autoincrement=False),
    Column("sn_code_pub", String(32), nullable=False),
    Column("status", String(1), nullable=False),
    Column("parameters", Text, nullable=False),  # JSON array of [prmCode, value]
    Column("limits", Text, nullable=False),  # JSON array of [name, value, unit]
)

discount_assignment = Table(
    "discount_assignment",
    metadata,
    Column("assign_id", BigInteger, primary_key=True, autoincrement=False),
    Column("cs_id", BigInteger, ForeignKey("customer.cs_id"), index=True),
    Column("co_id", BigInteger, ForeignKey("contract.co_id"), index=True),
    Column("kind", String(1), nullable=False),
    Column("pd_code", String(32), nullable=False),
    Column("value", String(40), nullable=False),
    Column("value_type", String(1), nullable=False),
    Column("currency", String(3)),
    Column("inherited", Boolean, nullable=False),
    Column("valid_from", String(10)),
    Column("valid_to", String(10)),
    Column("removed_at", String(20)),
    Column("assigned_at", String(20), nullable=False),
)

balance = Table(
    "balance",
    metadata,
    Column("co_id", BigInteger, ForeignKey("contract.co_id"), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("current", String(40), nullable=False),
    Column("unbilled", String(40), nullable=False),
    Column("outstanding", String(40), nullable=False),
    Column("as_of", String(20), nullable=False),
)

free_unit = Table(
    "free_unit",
    metadata,
    Column("co_id", BigInteger, ForeignKey("contract.co_id"), primary_key=True),
    Column("fu_pack_id", String(32), primary_key=True),
    Column("fu_type", String(8), nullable=False),
    Column("granted", String(40), nullable=False),
    Column("used", String(40), nullable=False),
    Column("period_start", String(10), nullable=False),
    Column("period_end", String(10), nullable=False),
)

usage_record = Table(
    "usage_record",
    metadata,
    Column("udr_id", BigInteger, primary_key=True, autoincrement=False),
    Column("co_id", BigInteger, ForeignKey("contract.co_id"), nullable=False),
    Column("start_time", String(20), nullable=False),
    Column("usage_type", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("other_party", String(32)),
    Column("duration_sec", Integer),
    Column("volume_bytes", BigInteger),
    Column("charge_amount", String(40), nullable=False),
    Column("charge_currency", String(3), nullable=False),
    Column("fu_pack_id", String(32)),
    Column("fu_consumed", String(40)),
    Column("roaming_country", String(2)),
)
Index("ix_usage_record_contract_time", usage_record.c.co_id, usage_record.c.start_time)

# Children first: the order reset() deletes in.
_WIPE_ORDER = [
    usage_record,
    free_unit,
    balance,
    discount_assignment,
    contract_service,
    contract_status,
    contract,
    info_field,
    address,
    customer,
]


def utc_text(instant: datetime) -> str:
    """An instant as the stored text: UTC, whole seconds, ``Z``."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_text(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class StateError(RuntimeError):
    """The state file cannot be used (another schema version, not a simulator file)."""


class SimStore:
    """The simulator's database: opened (and created) on start, disposed on stop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _sqlite_pragmas)

    def open(self) -> None:
        """Create the schema on first use, check the version of an existing file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            found = conn.execute(select(meta.c.value).where(meta.c.key == "schema")).scalar()
            if found is None:
                conn.execute(meta.insert().values(key="schema", value=SCHEMA_VERSION))
            elif found != SCHEMA_VERSION:
                raise StateError(
                    f"{self.path} holds simulator schema {found}, this code needs "
                    f"{SCHEMA_VERSION}; delete the file to start afresh"
                )
            _ensure_sequences(conn)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self.engine.begin() as conn:
            yield conn

    def reset(self) -> None:
        """Wipe every customer, contract and what hangs off them; restart the id series."""
        with self.engine.begin() as conn:
            for table in _WIPE_ORDER:
                conn.execute(table.delete())
            conn.execute(sequence.delete())
            _ensure_sequences(conn)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                "customers": _count(conn, customer),
                "contracts": _count(conn, contract),
            }

    def close(self) -> None:
        self.engine.dispose()


def next_id(conn: Connection, name: str, count: int = 1) -> int:
    """The next value of the id series ``name`` (the first of ``count`` consecutive ones),
    inside the caller's transaction."""
    value = conn.execute(select(sequence.c.next_value).where(sequence.c.name == name)).scalar_one()
    conn.execute(
        update(sequence)
        .where(sequence.c.name == name)
        .values(next_value=sequence.c.next_value + count)
    )
    return int(value)


def _ensure_sequences(conn: Connection) -> None:
    have = set(conn.execute(select(sequence.c.name)).scalars())
    for name, start in SEQUENCE_START.items():
        if name not in have:
            conn.execute(sequence.insert().values(name=name, next_value=start))


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite's lower() folds ASCII only; searches by name need "MÜ" to find "Müller".
    dbapi_connection.create_function("casefold", 1, _casefold, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
