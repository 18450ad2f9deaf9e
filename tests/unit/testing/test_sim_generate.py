"""The billing data the simulator makes for each new contract."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from adapter.testing.billing_sim import state as s
from adapter.testing.billing_sim.generate import month_bounds, populate

CREATED = datetime(2024, 5, 17, 10, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[s.SimStore]:
    store = s.SimStore(tmp_path / "sim.sqlite3")
    store.open()
    yield store
    store.close()


def generated(store: s.SimStore, co_id: int, records: int = 40) -> dict[str, list[Any]]:
    with store.begin() as conn:
        conn.execute(
            insert(s.customer).values(
                cs_id=co_id, cs_id_pub=f"C{co_id}", payment_resp=True, business_unit="1",
                party_type="I", last_name="Roe", cs_status="a", created_at="x", updated_at="x",
            )
        )  # fmt: skip
        conn.execute(
            insert(s.contract).values(
                co_id=co_id, co_id_pub=f"K{co_id}", cs_id=co_id, rp_code="RP", dn_num=str(co_id),
                co_status="o", created_at="x", updated_at="x",
            )
        )  # fmt: skip
        populate(conn, co_id, CREATED, records)
        return {
            name: [
                dict(row._mapping)
                for row in conn.execute(select(table).where(table.c.co_id == co_id))
            ]
            for name, table in (
                ("usage", s.usage_record),
                ("free", s.free_unit),
                ("balance", s.balance),
            )
        }


def without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in {"udr_id", "co_id"}} for row in rows]


def test_the_same_contract_id_gets_the_same_data(tmp_path: Path) -> None:
    one, two = s.SimStore(tmp_path / "a.sqlite3"), s.SimStore(tmp_path / "b.sqlite3")
    for store in (one, two):
        store.open()
    first, second = generated(one, 500_001), generated(two, 500_001)
    assert without_ids(first["usage"]) == without_ids(second["usage"])
    assert first["balance"] == second["balance"]
    one.close()
    two.close()


def test_other_contracts_get_other_data(store: s.SimStore) -> None:
    assert without_ids(generated(store, 1)["usage"]) != without_ids(generated(store, 2)["usage"])


def test_records_lie_in_the_30_days_before_creation(store: s.SimStore) -> None:
    starts = [row["start_time"] for row in generated(store, 7)["usage"]]
    assert len(starts) == 40
    assert min(starts) >= "2024-04-17T10:30:00Z"
    assert max(starts) < "2024-05-17T10:30:00Z"


def test_free_units_used_are_what_the_records_of_the_period_consumed(store: s.SimStore) -> None:
    data = generated(store, 11, records=200)
    consumed: dict[str, Decimal] = defaultdict(Decimal)
    for row in data["usage"]:
        if row["fu_pack_id"]:
            assert row["start_time"] >= "2024-05-01"
            assert Decimal(row["charge_amount"]) == 0
            consumed[row["fu_pack_id"]] += Decimal(row["fu_consumed"])
    for pack in data["free"]:
        assert Decimal(pack["used"]) == consumed[pack["fu_pack_id"]]
        assert Decimal(pack["used"]) <= Decimal(pack["granted"])
        assert (pack["period_start"], pack["period_end"]) == ("2024-05-01", "2024-05-31")


def test_the_unbilled_balance_is_the_charges_of_the_period(store: s.SimStore) -> None:
    data = generated(store, 13, records=100)
    charges = sum(
        (Decimal(r["charge_amount"]) for r in data["usage"] if r["start_time"] >= "2024-05-01"),
        Decimal(0),
    )
    (balance,) = data["balance"]
    assert Decimal(balance["unbilled"]) == charges
    assert Decimal(balance["current"]) > Decimal(balance["unbilled"])


def test_a_month_runs_from_its_first_to_its_last_day() -> None:
    assert month_bounds(datetime(2024, 2, 10).date()) == (
        datetime(2024, 2, 1).date(),
        datetime(2024, 2, 29).date(),
    )
