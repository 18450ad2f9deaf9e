"""Round trips: canonical → outbound payload → a response billing would give for it →
inbound → the same canonical values (for everything the legacy interface carries)."""

from __future__ import annotations

from typing import Any

from adapter.domain.model import (
    Account,
    Contract,
    Customer,
    DiscountAssignment,
    ServiceAssignment,
    ServiceStatus,
    Subscriber,
)
from adapter.mapping import EXPORT_NAMESPACE, Mappings
from adapter.mapping.converters import parse_step
from adapter.mapping.xsd import to_element

from .conftest import account_of


def customer_read_response(
    inputs: dict[str, Any], cs_id: int, changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What CustomerRead answers for a node created with ``inputs`` (CustomerNew) and then
    changed with ``changes`` (the inputAttributes of a CustomerWrite)."""
    return {
        "csId": cs_id,
        "csIdPub": inputs["csIdPub"],
        "parentCsId": None,
        "parentCsIdPub": (inputs.get("parent") or {}).get("csIdPub"),
        "csLevel": 2 if inputs.get("parent") else 1,
        "paymentResp": inputs["paymentResp"],
        "customer": {"csStatus": "a", **inputs["customer"], **(changes or {}).get("customer", {})},
        "addresses": inputs.get("addresses") or {"address": []},
        "infoFields": {"field": []},
    }


def round_trip_customer(
    mappings: Mappings, customer: Customer, account: Account, parent: Account | None = None
) -> tuple[Customer, Account, dict[str, Any]]:
    context: dict[str, Any] = {"customer": customer, "account": account}
    if parent is not None:
        context["parent_account"] = parent
    sent = mappings.outbound("CustomerNew", context)
    written = mappings.outbound("CustomerWrite", context)  # what CustomerNew cannot set
    result = mappings.inbound("CustomerRead", customer_read_response(sent, 4711, written))
    back = Customer.model_validate(
        {**result["customer"], "id": customer.id, "customer_number": customer.customer_number}
    )
    back_account = Account.model_validate(
        {
            **result["account"],
            "id": account.id,
            "customer_id": account.customer_id,
            "name": account.name,
            "parent_id": account.parent_id,
        }
    )
    return back, back_account, result


def test_a_person_survives_customer_new_and_customer_read(
    mappings: Mappings, person: Customer, account: Account
) -> None:
    back, back_account, result = round_trip_customer(mappings, person, account)
    assert back == person
    assert back_account == account
    assert result["legacy_ids"]["cs_id"] == 4711


def test_an_organisation_survives_customer_new_and_customer_read(
    mappings: Mappings, company: Customer, account: Account
) -> None:
    """Suspended, a landline rather than a mobile, a child node that does not pay."""
    child = account_of(
        company,
        number="C00000077.2",
        parent_id=account.id,
        payment_responsible=False,
        status="suspended",
        credit_limit=None,
        payment_method="invoice",
    )
    back, back_account, result = round_trip_customer(mappings, company, child, parent=account)
    phone = next(m for m in company.contact_media if m.type == "phone")
    expected = company.model_copy(
        update={
            "contact_media": [
                company.contact_media[0],
                phone.model_copy(update={"type": "mobile"}),  # BSCS has one phone: read as mobile
            ]
        }
    )
    assert back == expected
    assert back_account == child
    assert result["parent_account"] == {"number": account.number}


def test_attributes_survive_customer_info_write_and_customer_read(
    mappings: Mappings, account: Account
) -> None:
    attributes = {"loyalty_tier": "gold", "device_model": "Pixel 9"}
    sent = mappings.outbound("CustomerInfoWrite", {"account": account, "attributes": attributes})
    response = {"csId": 1, "csIdPub": account.number, "csLevel": 1, "paymentResp": True}
    response |= {"customer": {"partyType": "I"}, "addresses": {"address": []}}
    response["infoFields"] = sent["infoFields"]
    assert mappings.inbound("CustomerRead", response)["attributes"] == attributes


def test_a_contract_and_its_subscriber_survive_contract_new_and_contract_read(
    mappings: Mappings, account: Account, contract: Contract, subscriber: Subscriber
) -> None:
    sent = mappings.outbound(
        "ContractNew", {"account": account, "contract": contract, "subscriber": subscriber}
    )
    history = [
        {
            "coStatus": mappings.enum("contract_statuses", h.status),
            "validFrom": h.at,
            "rsCode": h.reason,
        }
        for h in contract.status_history
    ]
    response = {
        "coId": 815,
        "coIdPub": sent["coIdPub"],
        "csId": 4711,
        "csIdPub": sent["customer"]["csIdPub"],
        "rpCode": sent["rpCode"],
        "coStatus": sent["coStatus"],
        "dnNum": sent["dnNum"],
        "smNum": sent["smNum"],
        "imsi": sent["imsi"],
        "statusHistory": {"entry": history},
    }
    result = mappings.inbound("ContractRead", response)
    scope = {"id": contract.id, "customer_id": contract.customer_id, "account_id": account.id}
    back = Contract.model_validate(
        {**result["contract"], **scope, "sales_application_number": "SO000000042"}
    )
    assert back == contract
    back_subscriber = Subscriber.model_validate(
        {
            **result["subscriber"],
            "id": subscriber.id,
            "customer_id": subscriber.customer_id,
            "account_id": subscriber.account_id,
            "contract_id": contract.id,
        }
    )
    assert back_subscriber == subscriber
    assert result["account"] == {"number": account.number}


def test_services_with_parameters_and_limits_survive_add_and_read(
    mappings: Mappings, contract: Contract, services: list[ServiceAssignment]
) -> None:
    sent = mappings.outbound("ContractServicesAdd", {"contract": contract, "services": services})
    stored = [{**s, "snCode": 100 + i} for i, s in enumerate(sent["services"]["service"])]
    result = mappings.inbound("ContractServicesRead", {"services": {"service": stored}})
    back = [
        ServiceAssignment.model_validate({**fields, **_scope_of(original)})
        for fields, original in zip(result["services"], services, strict=True)
    ]
    assert back == services
    assert [i["sn_code"] for i in result["legacy_ids"]["services"]] == [100, 101, 102]


def test_one_changed_service_survives_services_write_and_read(
    mappings: Mappings, contract: Contract, services: list[ServiceAssignment]
) -> None:
    changed = services[1].model_copy(update={"status": ServiceStatus.SUSPENDED, "parameters": {}})
    sent = mappings.outbound(
        "ContractServicesWrite",
        {"contract": contract, "service": changed, "legacy_ids": {"sn_code": 104}},
    )
    assert sent["service"]["snCode"] == 104
    result = mappings.inbound("ContractServicesRead", {"services": {"service": [sent["service"]]}})
    back = ServiceAssignment.model_validate({**result["services"][0], **_scope_of(changed)})
    assert back == changed


def _scope_of(entity: ServiceAssignment | DiscountAssignment) -> dict[str, Any]:
    return {
        "id": entity.id,
        "customer_id": entity.customer_id,
        "account_id": entity.account_id,
        "contract_id": entity.contract_id,
        "subscriber_id": entity.subscriber_id,
    }


def export_record(
    mappings: Mappings, discounts: list[dict[str, Any]], on_node: list[dict[str, Any]]
) -> Any:
    """A minimal customer export record with one contract carrying ``discounts`` and the node
    carrying ``on_node``, as the billing export writes it."""
    declaration = (mappings.export_schema.element("customerExport").children or {})["customer"]
    record = {
        "csId": 1,
        "csIdPub": "C00000042.1",
        "csLevel": 1,
        "paymentResp": "X",
        "data": {"partyType": "I", "firstName": "Zoë", "lastName": "Ł", "csStatus": "a"},
        "contracts": {
            "contract": [
                {
                    "coId": 2,
                    "coIdPub": "CO000000042",
                    "rpCode": "RP_M",
                    "coStatus": "a",
                    "dnNum": "4915112345678",
                    "dnStatus": "a",
                    "discounts": {"discount": discounts},
                }
            ]
        },
        "discounts": {"discount": on_node},
    }
    return to_element(declaration, record, EXPORT_NAMESPACE)


def test_discounts_survive_discount_assign_and_the_export(
    mappings: Mappings,
    account: Account,
    contract: Contract,
    discounts: list[DiscountAssignment],
) -> None:
    """CIL has no discount read: billing reports assignments in its export, where the
    document map reads them back."""
    flag = parse_step("flag")
    written = []
    for i, discount in enumerate(discounts):
        sent = mappings.outbound(
            "DiscountAssign", {"account": account, "contract": contract, "discount": discount}
        )
        item = {k: v for k, v in sent.items() if k not in ("customer", "contract")}
        item |= {
            "assignId": 9000 + i,
            "level": mappings.enum("discount_levels", discount.level),
            "inherited": flag(sent["inherited"]),
        }
        written.append(item)
    element = export_record(mappings, written[1:], written[:1])
    bundle = mappings.document("customer", element)
    by_code = {d["code"]: d for d in bundle["discounts"]}
    for original in discounts:
        fields = by_code[original.code]
        # the export names entities by billing's public ids (stable ids here): compare the
        # values with the original's own ids in place
        back = DiscountAssignment.model_validate({**fields, **_scope_of(original)})
        assert back == original
        assert fields["account_id"] == parse_step("stable_id(account)")("C00000042.1")
    contract_level = by_code["LOYAL10"]
    assert contract_level["contract_id"] == parse_step("stable_id(contract)")("CO000000042")
    assert "subscriber_id" not in contract_level
    assert "subscriber_id" in by_code["WELCOME_DATA"]
