"""Inbound maps: CIL responses (as zeep's serialize_object gives them) → canonical fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapter.domain.model import Balance, FreeUnitBucket, UsageRecord
from adapter.mapping import MappingFailed, Mappings, TranslationError
from adapter.mapping.converters import parse_step

SCOPE = {"customer_id": "c1", "account_id": "a1", "contract_id": "k1", "subscriber_id": "s1"}


def test_every_read_operation_has_an_inbound_map(mappings: Mappings) -> None:
    reads = {
        "CustomerRead",
        "CustomersSearch",
        "ContractRead",
        "ContractServicesRead",
        "BalancesRead",
        "ContractFreeUnitsRead",
        "UsageDataRecordsRead",
    }
    assert all(mappings.has_inbound(op) for op in reads)


@pytest.mark.parametrize(
    ("operation", "response", "ids"),
    [
        ("CustomerNew", {"csId": 4711, "csIdPub": "C1.1"}, {"cs_id": 4711, "cs_id_pub": "C1.1"}),
        ("ContractNew", {"coId": 815, "coIdPub": "CO1"}, {"co_id": 815, "co_id_pub": "CO1"}),
        ("DiscountAssign", 9001, {"assign_id": 9001}),  # zeep returns a lone child bare
        ("AddressWrite", {"adrSeq": 3}, {"adr_seq": 3}),
        (
            "ContractServicesAdd",
            {"service": [{"snCode": 104, "snCodePub": "DATA", "status": "A"}]},
            {"services": [{"service_code": "DATA", "sn_code": 104, "sn_code_pub": "DATA"}]},
        ),
    ],
)
def test_new_operations_return_the_legacy_id_pairs(
    mappings: Mappings, operation: str, response: object, ids: dict[str, object]
) -> None:
    assert mappings.inbound(operation, response) == {"legacy_ids": ids}


def test_customer_read_splits_a_multi_role_address_and_reads_info_fields(
    mappings: Mappings,
) -> None:
    response = {
        "csId": 17,
        "csIdPub": "C9.1",
        "parentCsId": None,  # absent optional elements come back as None
        "parentCsIdPub": None,
        "csLevel": 1,
        "paymentResp": True,
        "customer": {
            "partyType": "I",
            "firstName": "Ana",
            "lastName": "Silva",
            "companyName": None,
            "birthDate": date(1990, 5, 6),
            "email": "ana@example.pt",
            "phone": "351912345678",
            "taxNo": "PT123",
            "csStatus": "i",
        },
        "addresses": {
            "address": [
                {
                    "adrSeq": 1,
                    "adrRole": ["R", "B"],
                    "adrLine": ["Rua A 1"],
                    "adrZip": "1000-001",
                    "adrCity": "Lisboa",
                    "adrState": None,
                    "adrCountry": "PT",
                }
            ]
        },
        "infoFields": {
            "field": [
                {"name": "LOYALTY_TIER", "value": "silver"},
                {"name": "BSCS_ONLY", "value": "x"},  # not in info_fields: left out
            ]
        },
    }
    result = mappings.inbound("CustomerRead", response)
    customer = result["customer"]
    assert customer["party"] == {
        "kind": "individual",
        "given_name": "Ana",
        "family_name": "Silva",
        "birth_date": date(1990, 5, 6),
    }
    assert customer["status"] == "prospect"
    assert result["account"]["status"] == "active"  # an interested node is an account in use
    assert customer["contact_media"] == [
        {"type": "email", "value": "ana@example.pt"},
        {"type": "mobile", "value": "351912345678"},
    ]
    assert [a["role"] for a in customer["addresses"]] == ["residence", "billing"]
    assert {a["city"] for a in customer["addresses"]} == {"Lisboa"}
    assert result["attributes"] == {"loyalty_tier": "silver"}
    assert result["legacy_ids"] == {
        "cs_id": 17,
        "cs_id_pub": "C9.1",
        # billing's number of each address, per role like customer.addresses (AddressWrite)
        "addresses": [{"adr_seq": 1, "role": "residence"}, {"adr_seq": 1, "role": "billing"}],
    }
    assert result["params"] == {"level": 1}
    assert "parent_account" not in result


def test_contract_read_gives_contract_and_subscriber(mappings: Mappings) -> None:
    response = {
        "coId": 5,
        "coIdPub": "CO5",
        "csId": 7,
        "csIdPub": "C7.1",
        "rpCode": "RP_L",
        "coStatus": "o",
        "dnNum": "4915199999999",
        "smNum": None,
        "imsi": "262019999999999",
        "statusHistory": {"entry": []},
    }
    result = mappings.inbound("ContractRead", response)
    assert result["contract"] == {
        "number": "CO5",
        "rate_plan": "RP_L",
        "status": "on_hold",
        "status_history": [],
    }
    assert result["subscriber"] == {
        "msisdn": "+4915199999999",
        "imsi": "262019999999999",
        "status": "active",  # a number on a contract on hold is not yet in use, not suspended
    }
    assert result["account"] == {"number": "C7.1"}


def test_contract_services_read_with_no_services_gives_empty_lists(mappings: Mappings) -> None:
    """zeep hands back the lone `services` child; an empty list is still a list."""
    result = mappings.inbound("ContractServicesRead", {"service": []})
    assert result == {"services": [], "legacy_ids": {"services": []}}


def test_balances_read_gives_balances_the_model_accepts(mappings: Mappings) -> None:
    response = {
        "balance": [
            {
                "current": {"amount": Decimal("-12.30"), "currency": "EUR"},
                "unbilled": {"amount": Decimal("4.5"), "currency": "EUR"},
                "outstanding": {"amount": Decimal("0"), "currency": "EUR"},
                "asOf": datetime(2025, 1, 31, 23, 0),  # no zone: billing writes UTC
            }
        ]
    }
    (balance,) = mappings.inbound("BalancesRead", response)["balances"]
    model = Balance.model_validate({**balance, "customer_id": "c1", "account_id": "a1"})
    assert model.current == Decimal("-12.30")
    assert model.as_of == datetime(2025, 1, 31, 23, 0, tzinfo=UTC)


def test_free_units_read_gives_buckets_the_model_accepts(mappings: Mappings) -> None:
    response = {
        "freeUnits": {
            "freeUnit": [
                {
                    "fuPackId": "DATA_MONTH",
                    "fuType": "MB",
                    "granted": Decimal(10240),
                    "used": Decimal(2048),
                    "remaining": Decimal(8192),
                    "periodStart": date(2025, 1, 1),
                    "periodEnd": date(2025, 1, 31),
                }
            ]
        }
    }
    (bucket,) = mappings.inbound("ContractFreeUnitsRead", response)["free_units"]
    model = FreeUnitBucket.model_validate(
        {**bucket, **SCOPE, "as_of": datetime(2025, 1, 31, tzinfo=UTC)}
    )
    assert (model.unit, model.remaining) == ("mb", Decimal(8192))


def test_usage_records_get_a_stable_id_from_the_udr_id(mappings: Mappings) -> None:
    udr = {
        "udrId": 123,
        "startTime": datetime(2025, 1, 3, 10, 0, tzinfo=UTC),
        "usageType": "ROAM_DATA",
        "direction": "MO",
        "otherParty": None,
        "durationSec": None,
        "volumeBytes": 1_000_000,
        "charge": {"amount": Decimal("1.99"), "currency": "EUR"},
        "fuPackId": "DATA_MONTH",
        "fuConsumed": Decimal("0.95"),
        "roamingCountry": "FR",
    }
    result = mappings.inbound(
        "UsageDataRecordsRead", {"records": {"udr": [udr]}, "moreRecords": True}
    )
    (record,) = result["usage"]
    assert record["id"] == parse_step("stable_id(usage)")(123)
    assert result["params"] == {"more_records": True}
    model = UsageRecord.model_validate({**record, **SCOPE})
    assert (model.type, model.direction, model.roaming_country) == (
        "roaming_data",
        "outgoing",
        "FR",
    )
    assert model.charge.amount == Decimal("1.99")
    again = mappings.inbound(
        "UsageDataRecordsRead", {"records": {"udr": [udr]}, "moreRecords": False}
    )
    assert again["usage"][0]["id"] == record["id"]


def test_customers_search_lists_matches(mappings: Mappings) -> None:
    response = {
        "customers": {
            "customer": [{"csId": 1, "csIdPub": "C1.1", "name": "Ana Silva", "csStatus": "a"}]
        },
        "searchIsComplete": "true",
    }
    assert mappings.inbound("CustomersSearch", response) == {
        "matches": [
            {
                "number": "C1.1",
                "name": "Ana Silva",
                "status": "active",
                "legacy_ids": {"cs_id": 1, "cs_id_pub": "C1.1"},
            }
        ],
        "params": {"complete": True},
    }


def test_an_unknown_legacy_code_names_the_table(mappings: Mappings) -> None:
    with pytest.raises(TranslationError, match=r"'contract_statuses'.*legacy value 'x'"):
        mappings.inbound("ContractRead", {"coIdPub": "CO1", "coStatus": "x"})


def test_an_operation_without_inbound_map_is_refused(mappings: Mappings) -> None:
    with pytest.raises(MappingFailed, match="no inbound map"):
        mappings.inbound("CustomerWrite", {})
