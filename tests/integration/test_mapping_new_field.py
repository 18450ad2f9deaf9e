"""A new legacy field is a mapping change, not a code change: each test copies mappings/ to a
temporary folder, adds a field there (YAML only), loads that folder and shows the field flow.
These are the worked examples of docs/mapping-guide.md."""

from __future__ import annotations

import io
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from adapter import xmlsafe
from adapter.domain.attributes import AttributeValue
from adapter.domain.model import Account, Customer, Individual
from adapter.mapping import MappingFailed, Mappings, load_mappings
from adapter.mapping.xsd import to_element
from adapter.paths import CIL_NS, CIL_XSD, MAPPINGS_DIR
from adapter.testing.export import write_customer_export


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, target)
    return target


def append(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def insert_after(folder: Path, name: str, anchor: str, text: str) -> None:
    path = folder / name
    body = path.read_text(encoding="utf-8")
    assert anchor in body
    path.write_text(body.replace(anchor, anchor + text, 1), encoding="utf-8")


def valid_request(mappings: Mappings, operation: str, inputs: dict[str, Any]) -> bool:
    session = {"values": {"item": [{"key": "BU_ID", "value": "1"}]}}
    element = to_element(
        mappings.request_element(operation),
        {"inputAttributes": inputs, "sessionChangeRequest": session},
        CIL_NS,
    )
    return bool(etree.XMLSchema(etree.parse(str(CIL_XSD))).validate(element))


@pytest.fixture
def doctor() -> tuple[Customer, Account]:
    customer = Customer(
        customer_number="C00000001",
        party=Individual(given_name="Ada", family_name="Lovelace", title="Dr."),
    )
    account = Account(customer_id=customer.id, number="C00000001.1", name="Ada Lovelace")
    return customer, account


def test_party_title_travels_in_an_info_field(
    folder: Path, doctor: tuple[Customer, Account]
) -> None:
    """CIL has no title element; billing keeps it in the info field TITLE. Two rules (one per
    direction) carry it; nothing else changes."""
    customer, account = doctor
    rule = """
  # worked example: the title of a person in the info field TITLE
  - legacy: infoFields.field[name=TITLE].value
    canonical: customer.party.title
    when: {canonical: customer.party.kind, equals: individual}
"""
    append(folder, "operations/customer_info_write.yaml", rule)
    append(folder, "operations/customer_read.yaml", rule)
    before, after = load_mappings(), load_mappings(folder)
    context = {"customer": customer, "account": account, "attributes": {"loyalty_tier": "gold"}}

    assert "TITLE" not in str(before.outbound("CustomerInfoWrite", context))
    sent = after.outbound("CustomerInfoWrite", context)
    assert sent["infoFields"]["field"] == [
        {"name": "LOYALTY_TIER", "value": "gold"},
        {"name": "TITLE", "value": "Dr."},
    ]
    assert valid_request(after, "CustomerInfoWrite", sent)

    response = {
        "csId": 1,
        "csIdPub": account.number,
        "csLevel": 1,
        "paymentResp": True,
        "customer": {"partyType": "I", "firstName": "Ada", "lastName": "Lovelace"},
        "addresses": {"address": []},
        "infoFields": sent["infoFields"],
    }
    assert "title" not in before.inbound("CustomerRead", response)["customer"]["party"]
    read = after.inbound("CustomerRead", response)
    assert read["customer"]["party"]["title"] == "Dr."
    assert read["attributes"] == {"loyalty_tier": "gold"}  # TITLE is no attribute


def test_a_new_custom_attribute_needs_one_line_in_the_info_fields_table(
    folder: Path, doctor: tuple[Customer, Account]
) -> None:
    _customer, account = doctor
    insert_after(
        folder,
        "enums.yaml",
        "      device_model: DEVICE_MODEL\n",
        "      contract_language: LANGUAGE\n",
    )
    before, after = load_mappings(), load_mappings(folder)
    attributes = {"contract_language": "pl"}
    # before: the attribute is not billing's, so there is nothing to send
    with pytest.raises(MappingFailed, match=r"inputAttributes\.infoFields is required"):
        before.outbound("CustomerInfoWrite", {"account": account, "attributes": attributes})
    sent = after.outbound("CustomerInfoWrite", {"account": account, "attributes": attributes})
    assert sent["infoFields"]["field"] == [{"name": "LANGUAGE", "value": "pl"}]
    response = {"csId": 1, "csIdPub": "X", "csLevel": 1, "paymentResp": True}
    response |= {"customer": {"partyType": "I"}, "addresses": {"address": []}}
    response["infoFields"] = sent["infoFields"]
    assert after.inbound("CustomerRead", response)["attributes"] == attributes


def test_an_element_of_the_export_becomes_a_custom_attribute(folder: Path) -> None:
    """The export carries each customer's language (exp:data/exp:language), which the
    canonical model has no field for: a list rule in the export's XPath map turns it into a
    value of the custom attribute preferred_language."""
    insert_after(
        folder,
        "documents/customer_export.yaml",
        "  # " + "-" * 66 + " custom attributes\n",
        """  # worked example: the customer's language as the custom attribute preferred_language
  - xpath: exp:data/exp:language
    canonical: attribute_values
    items:
      - const: preferred_language
        canonical: name
      - xpath: concat(ancestor::exp:customer/exp:csIdPub, ':language')
        canonical: id
        convert: stable_id(attribute)
      - const: customer
        canonical: entity_kind
      - xpath: ancestor::exp:customer/exp:csIdPub
        canonical: entity_id
        convert: stable_id(customer)
      - xpath: ancestor::exp:customer/exp:csIdPub
        canonical: customer_id
        convert: stable_id(customer)
      - xpath: .
        canonical: value
""",
    )
    before, after = load_mappings(), load_mappings(folder)
    data = io.BytesIO()
    write_customer_export(data, 20, seed=3, as_of=date(2025, 1, 31))
    languages = []
    for element in xmlsafe.iterparse(io.BytesIO(data.getvalue()), after.record_tag("customer")):
        old = before.document("customer", element)
        new = after.document("customer", element)
        assert all(v["name"] != "preferred_language" for v in old["attribute_values"])
        (value,) = [v for v in new["attribute_values"] if v["name"] == "preferred_language"]
        attribute = AttributeValue.model_validate(value)
        assert attribute.entity_id == new["customer"]["id"]
        languages.append(attribute.value)
    assert len(languages) == 20
    assert set(languages) <= {"de", "fr", "pl", "es", "it"}
