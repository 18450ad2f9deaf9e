"""BSCS-style XML request documents (wsdl/requests.xsd) become the request envelope the JSON
path takes, through the maps of mappings/documents/requests/; a document that is not XML,
carries a DTD or entity, breaks the schema or names no known operation is refused with the
line and what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.mapping import load_mappings
from adapter.requests.envelope import OPERATIONS, parse_envelope
from adapter.requests.xmldoc import DocumentRejected, is_xml, to_envelope
from tests.integration.test_requests_docs import DOC, documented_examples
from tests.unit.requests.xml_examples import DOCUMENTS, document


def examples() -> dict[str, dict[str, Any]]:
    """The JSON envelope each XML example must map to: the page's example of the operation."""
    return {e["operation"]: e for e in documented_examples()}


def rejected(data: str | bytes) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        to_envelope(data)
    return caught.value


def body_of(operation: str) -> str:
    """The body element of the documented example of ``operation``."""
    text = DOCUMENTS[operation]
    start = text.index("<", text.index("</channel>") + 1)
    start = text.rindex("\n", 0, start) + 1
    return text[start : text.index("</request>")]


# ------------------------------------------------------------------------- every operation


def test_every_operation_has_a_request_document_map() -> None:
    bodies = load_mappings().request_bodies
    mapped = sorted(operation for operation, _document in bodies.values())
    assert mapped == sorted(OPERATIONS)


def test_every_operation_has_an_xml_example_and_the_envelope_it_maps_to() -> None:
    assert sorted(DOCUMENTS) == sorted(OPERATIONS)
    assert sorted(examples()) == sorted(OPERATIONS)


@pytest.mark.parametrize("operation", sorted(DOCUMENTS))
def test_the_xml_document_maps_to_exactly_the_documented_envelope(operation: str) -> None:
    """The XML form of each example of docs/requests.md gives the JSON example, key for key
    and type for type (no list or field the JSON does not have). The JSON envelope passes the
    schema, so the XML one does too."""
    assert to_envelope(DOCUMENTS[operation]) == examples()[operation]


def test_the_mapped_envelope_passes_the_json_schema() -> None:
    envelope = parse_envelope(to_envelope(DOCUMENTS["service.add"]))
    assert envelope.operation == "service.add"


def test_a_document_is_accepted_as_bytes_and_as_text() -> None:
    text = DOCUMENTS["contract.create"]
    assert to_envelope(text.encode("utf-8")) == to_envelope(text)


# ------------------------------------------------------------------------- what maps how


def test_an_organisation_is_mapped_as_an_organisation_party() -> None:
    body = """
  <customerNew>
    <custCode>C-2001</custCode>
    <organization><companyName>Acme GmbH</companyName><legalForm>GmbH</legalForm></organization>
  </customerNew>"""
    payload = to_envelope(document("req-org", body))["payload"]
    assert payload["party"] == {"kind": "organization", "name": "Acme GmbH", "legal_form": "GmbH"}


def test_an_address_with_two_roles_is_two_addresses() -> None:
    body = """
  <customerWrite>
    <custCode>C-1001</custCode>
    <addresses><address>
      <adrRole>B</adrRole><adrRole>R</adrRole>
      <adrLine>Hauptstraße 1</adrLine><adrLine>2. OG</adrLine>
      <adrZip>10115</adrZip><adrCity>Berlin</adrCity><adrCountry>DE</adrCountry>
    </address></addresses>
  </customerWrite>"""
    patch = to_envelope(document("req-adr", body))["payload"]["patch"]
    assert [a["role"] for a in patch["addresses"]] == ["billing", "residence"]
    assert all(a["lines"] == ["Hauptstraße 1", "2. OG"] for a in patch["addresses"])


def test_a_single_address_line_is_still_a_list_in_a_patch() -> None:
    """customer.update's lists are typed loosely in the command (a merge patch); the map is
    checked against the customer's own fields, so ``lines`` stays a list."""
    body = """
  <customerWrite>
    <custCode>C-1001</custCode>
    <addresses><address><adrRole>L</adrRole><adrLine>Markt 2</adrLine>
      <adrZip>04109</adrZip><adrCity>Leipzig</adrCity><adrCountry>DE</adrCountry></address></addresses>
  </customerWrite>"""
    patch = to_envelope(document("req-adr-1", body))["payload"]["patch"]
    assert patch["addresses"] == [
        {
            "role": "registration",
            "lines": ["Markt 2"],
            "postcode": "04109",
            "city": "Leipzig",
            "country": "DE",
        }
    ]


def test_an_info_field_without_value_clears_the_attribute() -> None:
    body = """
  <infoFieldsWrite>
    <entityKind>customer</entityKind><entity>C-1001</entity>
    <infoFields><field><name>LOYALTY_TIER</name></field><field><name>DEVICE_MODEL</name><value>X1</value></field></infoFields>
  </infoFieldsWrite>"""
    payload = to_envelope(document("req-attr", body))["payload"]
    assert payload["values"] == {"loyalty_tier": None, "device_model": "X1"}


def test_a_move_under_a_parent_names_the_parent() -> None:
    body = (
        "<customerHierarchyWrite><csIdPub>A-1002</csIdPub>"
        "<parentCsIdPub>A-1001</parentCsIdPub></customerHierarchyWrite>"
    )
    payload = to_envelope(document("req-move", body))["payload"]
    assert payload == {"account": "A-1002", "parent": "A-1001"}


def test_a_discount_on_a_directory_number_is_on_the_subscriber() -> None:
    body = """
  <discountAssign><dnNum>4917012340001</dnNum><pdCode>FAMILY</pdCode><value>5</value>
    <valueType>A</valueType><currency>EUR</currency><inherited>false</inherited></discountAssign>"""
    payload = to_envelope(document("req-dsc", body))["payload"]
    assert payload == {
        "level": "subscriber",
        "subscriber": "+4917012340001",
        "code": "FAMILY",
        "value": "5",
        "value_type": "amount",
        "currency": "EUR",
        "inherited": False,
    }


def test_clearing_every_suppression_of_a_group() -> None:
    body = (
        "<listingSuppressionClear><of><groupName>board</groupName></of></listingSuppressionClear>"
    )
    payload = to_envelope(document("req-clr", body))["payload"]
    assert payload == {"of": {"scope_type": "group", "group_name": "board"}}


def test_a_list_the_document_leaves_out_is_left_out_of_the_payload() -> None:
    """service.change replaces the lists it is given: an absent <parameters> must not become
    an empty list that would wipe the service's parameters."""
    payload = to_envelope(DOCUMENTS["service.change"])["payload"]
    assert "parameters" not in payload and payload["limits"][0]["value"] == "20"


def test_the_header_customer_orders_the_request() -> None:
    text = DOCUMENTS["contract.create"].replace(
        "<channel>shop</channel>", "<channel>shop</channel><customer>C-1001</customer>"
    )
    assert to_envelope(text)["customer"] == "C-1001"


# ------------------------------------------------------------------------- refused documents


def test_text_that_is_not_xml_is_refused_with_its_line() -> None:
    error = rejected("<request xmlns='urn:bscs:requests:v1'>\n<requestId>x</requestId>\n<user>")
    assert error.rule == "xml"
    assert "not well-formed XML" in str(error)
    assert error.line is not None


def test_a_document_with_a_dtd_is_refused() -> None:
    text = '<?xml version="1.0"?>\n<!DOCTYPE request [<!ENTITY x "boom">]>\n' + DOCUMENTS[
        "discount.remove"
    ].split("\n", 1)[1].replace("dsc-1001", "&x;")
    error = rejected(text)
    assert error.rule == "xml"
    assert error.line == 2
    assert "DOCTYPE" in str(error)


def test_an_entity_declaration_anywhere_is_refused() -> None:
    text = DOCUMENTS["discount.remove"].replace(
        "<discountRemove>", '<!-- <!ENTITY x SYSTEM "file:///etc/passwd"> -->\n<discountRemove>'
    )
    error = rejected(text)
    assert error.rule == "xml" and "ENTITY" in str(error)


def test_another_root_element_is_refused_naming_the_expected_one() -> None:
    error = rejected('<customerNew xmlns="urn:bscs:cil:v7"/>')
    assert error.rule == "root"
    assert "<request>" in str(error) and "urn:bscs:requests:v1" in str(error)


def test_an_unknown_operation_element_is_refused_with_its_line_and_the_known_ones() -> None:
    text = document("req-x", "  <contractFrobnicate><coIdPub>K-1</coIdPub></contractFrobnicate>")
    error = rejected(text)
    assert error.rule == "operation"
    assert error.line == 6
    assert "<contractFrobnicate>" in str(error)
    assert "<contractNew> (contract.create)" in str(error)


def test_a_request_without_an_operation_element_is_refused() -> None:
    error = rejected(document("req-x", ""))
    assert error.rule == "operation" and "no operation element" in str(error)


def test_a_document_breaking_the_schema_is_refused_with_the_line_and_element() -> None:
    text = DOCUMENTS["contract.create"].replace("<dnNum>4917012340001", "<dnNum>+4917012340001")
    error = rejected(text)
    assert error.rule == "schema"
    line = text[: text.index("<dnNum>")].count("\n") + 1
    assert error.line == line
    assert str(error).startswith(f"line {line}: ")
    assert "req:dnNum" in str(error)


def test_a_missing_required_element_is_refused_naming_it() -> None:
    text = DOCUMENTS["customer.remove_contact_person"].replace(
        "<contactPersonId>cp-2</contactPersonId>", ""
    )
    error = rejected(text)
    assert error.rule == "schema"
    assert "req:contactPersonId" in str(error)


def test_two_operation_elements_are_refused() -> None:
    text = DOCUMENTS["discount.remove"].replace(
        "</request>", body_of("suppression.clear") + "</request>"
    )
    assert rejected(text).rule == "schema"


def test_a_code_the_enum_table_does_not_know_is_refused_by_the_mapping() -> None:
    text = DOCUMENTS["service.add"].replace("<snCodePub>DATA", "<snCodePub>TELEPORT")
    error = rejected(text)
    assert error.rule == "mapping"
    assert "service_codes" in str(error) and "TELEPORT" in str(error)


def test_an_oversized_document_is_refused() -> None:
    text = DOCUMENTS["suppression.set"].replace("board member", "board member" + " " * 1_100_000)
    assert rejected(text).rule == "xml"


# ------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("  \n<request/>", True),
        (b"\xef\xbb\xbf<?xml version='1.0'?><request/>", True),
        ('{"request_id": "x"}', False),
        (b"[]", False),
        ("", False),
    ],
)
def test_xml_is_told_from_json_by_its_first_non_blank_character(
    data: str | bytes, expected: bool
) -> None:
    assert is_xml(data) is expected


# ------------------------------------------------------------------------- nothing dropped


def test_every_element_the_schema_accepts_is_read_by_a_map() -> None:
    """An element added to wsdl/requests.xsd without a rule would be accepted and dropped:
    each element of each body is named (``req:<name>``) by that operation's map or by the
    request fragments it may include."""
    maps = load_mappings()
    schema = maps.requests_schema
    assert schema is not None
    folder = maps.folder / "documents" / "requests"
    fragments = "".join(
        (folder / name).read_text(encoding="utf-8")
        for name in ("header.yaml", "party_lists.yaml", "info_fields.yaml")
    )
    files = {
        operation: next(
            path.read_text(encoding="utf-8")
            for path in folder.glob("*.yaml")
            if f"request: {operation}\n" in path.read_text(encoding="utf-8")
        )
        for operation, _document in maps.request_bodies.values()
    }
    request = schema.element("request")
    missing = []
    for tag, (operation, _document) in maps.request_bodies.items():
        body = (request.children or {})[tag.rpartition("}")[2]]
        text = files[operation] + fragments
        for name in _element_names(body):
            # <root/> of customerHierarchyWrite means "no parent": the absence of parentCsIdPub
            if f"req:{name}" not in text and name != "root":
                missing.append(f"{body.name}/{name}")
    assert missing == []


def _element_names(element: Any) -> set[str]:
    names: set[str] = set()
    for child in (element.children or {}).values():
        names.add(child.name)
        names |= _element_names(child)
    return names


def test_every_optional_element_of_a_new_customer_reaches_the_payload() -> None:
    body = """
  <customerNew>
    <id>cust-7</id>
    <custCode>C-7</custCode>
    <csStatus>i</csStatus>
    <segment>business</segment>
    <individual>
      <title>Dr.</title><firstName>Ana</firstName><middleName>Maria</middleName>
      <lastName>Lange</lastName><gender>F</gender><birthDate>1984-05-17</birthDate>
      <nationality>DE</nationality>
    </individual>
    <identifications><identification><type>passport</type><value>C01X00T47</value>
      <validFrom>2020-01-01</validFrom><validTo>2030-01-01</validTo></identification></identifications>
    <addresses><address><adrRole>S</adrRole><adrLine>Lager 7</adrLine><adrZip>14974</adrZip>
      <adrCity>Ludwigsfelde</adrCity><adrState>BB</adrState><adrCountry>DE</adrCountry>
      <validFrom>2025-01-01</validFrom><validTo>2025-12-31</validTo></address></addresses>
    <contactPersons><contactPerson><role>TECH</role><firstName>Jan</firstName>
      <lastName>Berg</lastName>
      <contactMedia><contactMedium><type>mobile</type><value>+491701234567</value>
        <preferred>false</preferred></contactMedium></contactMedia>
      <validFrom>2025-02-01</validFrom><validTo>2026-02-01</validTo></contactPerson></contactPersons>
    <account>
      <id>acc-7</id><csIdPub>A-7</csIdPub><name>Ana Lange</name><paymentResp>true</paymentResp>
      <billCycle>15</billCycle><paymentMethod>C</paymentMethod>
      <creditLimit><amount>250.00</amount><currency>EUR</currency></creditLimit>
      <infoFields><field><name>DEVICE_MODEL</name><value>X1</value></field></infoFields>
    </account>
  </customerNew>"""
    payload = to_envelope(document("req-full", body))["payload"]
    assert payload == {
        "id": "cust-7",
        "customer_number": "C-7",
        "status": "prospect",
        "segment": "business",
        "party": {
            "kind": "individual",
            "title": "Dr.",
            "given_name": "Ana",
            "middle_name": "Maria",
            "family_name": "Lange",
            "gender": "female",
            "birth_date": "1984-05-17",
            "nationality": "DE",
        },
        "identifications": [
            {
                "type": "passport",
                "value": "C01X00T47",
                "valid_from": "2020-01-01",
                "valid_to": "2030-01-01",
            }
        ],
        "addresses": [
            {
                "role": "shipment",
                "lines": ["Lager 7"],
                "postcode": "14974",
                "city": "Ludwigsfelde",
                "region": "BB",
                "country": "DE",
                "valid_from": "2025-01-01",
                "valid_to": "2025-12-31",
            }
        ],
        "contact_persons": [
            {
                "role": "technical_contact",
                "given_name": "Jan",
                "family_name": "Berg",
                "contact_media": [{"type": "mobile", "value": "+491701234567", "preferred": False}],
                "valid_from": "2025-02-01",
                "valid_to": "2026-02-01",
            }
        ],
        "account": {
            "id": "acc-7",
            "number": "A-7",
            "name": "Ana Lange",
            "payment_responsible": True,
            "bill_cycle": "15",
            "payment_method": "card",
            "credit_limit": {"amount": "250.00", "currency": "EUR"},
            "attributes": {"device_model": "X1"},
        },
    }
    assert parse_envelope(to_envelope(document("req-full", body))).payload is not None


def test_the_xml_example_of_docs_requests_maps_to_its_json_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## XML request documents\n", 1)[1].split("\n## ", 1)[0]
    xml = section.split("```xml\n", 1)[1].split("\n```", 1)[0]
    envelope = to_envelope(xml)
    assert envelope == examples()[envelope["operation"]]
