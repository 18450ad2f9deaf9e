"""The XSD/WSDL reader the loader checks legacy paths with, and dicts rendered as XML."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from adapter.mapping.xsd import SchemaProblem, load_operations, load_schema, to_element
from adapter.paths import CIL_NS, CIL_WSDL, CIL_XSD


def test_the_wsdl_has_eighteen_operations_with_request_and_response() -> None:
    operations = load_operations(CIL_WSDL)
    assert len(operations) == 18
    assert operations["CustomersSearch"].request == "customersSearchRequest"
    assert operations["CustomerNew"].response == "customerNewResponse"


def test_elements_know_occurrence_types_and_codes() -> None:
    schema = load_schema(CIL_XSD)
    inputs = (schema.element("customerNewRequest").children or {})["inputAttributes"]
    children = inputs.children or {}
    assert children["paymentResp"].min_occurs == 1 and children["paymentResp"].builtin == "boolean"
    address = (children["addresses"].children or {})["address"]
    assert address.repeated and address.max_occurs == 16
    role = (address.children or {})["adrRole"]
    assert role.allowed == frozenset("BRLCS") and role.max_occurs == 5
    customer = children["customer"].children or {}
    assert customer["creditLimit"].complex
    assert customer["birthDate"].builtin == "date"


def test_to_element_orders_children_as_the_schema_does() -> None:
    schema = load_schema(CIL_XSD)
    declaration = schema.element("discountAssignRequest")
    body = {
        "sessionChangeRequest": {"values": {"item": [{"key": "BU", "value": "1"}]}},
        "inputAttributes": {
            "validTo": date(2025, 1, 31),
            "value": Decimal("5.00"),
            "pdCode": "X",
            "kind": "P",
            "valueType": "A",
            "inherited": False,
        },
    }
    element = to_element(declaration, body, CIL_NS)
    names = [etree.QName(e).localname for e in element[0]]
    assert names == ["kind", "pdCode", "value", "valueType", "inherited", "validTo"]
    assert element[0][4].text == "false" and element[0][2].text == "5.00"
    assert etree.XMLSchema(etree.parse(str(CIL_XSD))).validate(element)


def test_to_element_refuses_a_key_the_schema_does_not_declare() -> None:
    declaration = load_schema(CIL_XSD).element("discountRemoveRequest")
    with pytest.raises(SchemaProblem, match="no child element"):
        to_element(declaration, {"inputAttributes": {"assignID": 1}}, CIL_NS)
