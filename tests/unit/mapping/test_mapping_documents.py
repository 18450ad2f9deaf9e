"""XPath maps of inbound BSCS documents: a customer export record and a usage record become
canonical bundles that the domain models accept."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from adapter import xmlsafe
from adapter.domain import ENTITY_KINDS
from adapter.mapping import MappingFailed, Mappings, TranslationError
from adapter.mapping.converters import parse_step
from adapter.paths import WSDL_DIR

EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<customerExport xmlns="urn:bscs:export:v1" exportedAt="2025-01-31T00:00:00Z" system="BSCS">
<customer>
  <csId>100077</csId><csIdPub>C00000077</csIdPub><csLevel>1</csLevel><paymentResp>X</paymentResp>
  <data>
    <partyType>O</partyType><companyName>Acme Telecom &amp; Co</companyName>
    <tradingName>Acme</tradingName><legalForm>GmbH</legalForm><language>de</language>
    <email>Billing@ACME.example</email><taxNo>DE811907980</taxNo>
    <companyRegNo>HRB 12345</companyRegNo>
    <segment>corporate</segment><billCycle>15</billCycle><paymentMethod>D</paymentMethod>
    <creditLimit><amount>5000.00</amount><currency>EUR</currency></creditLimit>
    <csStatus>a</csStatus>
  </data>
  <addresses>
    <address><adrSeq>1</adrSeq><adrRole>L</adrRole><adrRole>B</adrRole>
      <adrLine>Friedrichstra\xc3\x9fe 1</adrLine><adrLine>3. OG</adrLine>
      <adrZip>10117</adrZip><adrCity>Berlin</adrCity><adrCountry>DE</adrCountry></address>
    <address><adrRole>S</adrRole><adrLine>Lager 7</adrLine><adrZip>14974</adrZip>
      <adrCity>Ludwigsfelde</adrCity><adrCountry>DE</adrCountry><validFrom>2025-01-01</validFrom></address>
  </addresses>
  <contactPersons>
    <contactPerson><role>AUTH</role><firstName>Jan</firstName><lastName>Nowak</lastName>
      <email>jan@acme.example</email></contactPerson>
    <contactPerson><role>BILL</role><firstName>Eva</firstName><lastName>Berg</lastName>
      <phone>493055512345</phone></contactPerson>
  </contactPersons>
  <infoFields>
    <field><name>LOYALTY_TIER</name><value>gold</value></field>
    <field><name>CRM_SYNC</name><value>N</value></field>
  </infoFields>
  <discounts>
    <discount><assignId>9001</assignId><kind>D</kind><pdCode>CORP_FRAME</pdCode><level>A</level>
      <value>15</value><valueType>P</valueType><inherited>X</inherited></discount>
  </discounts>
  <subCustomers>
    <subCustomer>
      <csId>500001</csId><csIdPub>C00000077.1</csIdPub><parentCsIdPub>C00000077</parentCsIdPub>
      <csLevel>2</csLevel><paymentResp>-</paymentResp><name>Berlin 2</name><csStatus>s</csStatus>
      <contracts>
        <contract>
          <coId>1000001</coId><coIdPub>CO000000001</coIdPub><salesApplNo>SO000000001</salesApplNo>
          <rpCode>RP_BUSINESS</rpCode><coStatus>s</coStatus><dnNum>4915000000001</dnNum>
          <dnStatus>a</dnStatus><smNum>8949000000000000018</smNum><imsi>262010000000001</imsi>
          <statusHistory>
            <entry><coStatus>a</coStatus><validFrom>2024-03-13T19:14:56Z</validFrom>
              <reason>activated at sale</reason></entry>
            <entry><coStatus>s</coStatus><validFrom>2025-01-11T08:00:00+01:00</validFrom></entry>
          </statusHistory>
          <services>
            <service><snCode>104</snCode><snCodePub>DATA</snCodePub><status>A</status>
              <parameters><parameter><prmCode>APN</prmCode><value>internet</value></parameter></parameters>
              <limits><limit><name>DATA_CAP</name><value>20</value><unit>GB</unit></limit></limits>
            </service>
            <service><snCode>109</snCode><snCodePub>CALL_FWD</snCodePub><status>S</status></service>
          </services>
          <discounts>
            <discount><assignId>9002</assignId><kind>P</kind><pdCode>WELCOME_DATA</pdCode><level>S</level>
              <value>5.00</value><valueType>A</valueType><currency>EUR</currency><inherited>-</inherited>
              <validFrom>2025-01-01</validFrom><validTo>2025-01-31</validTo></discount>
          </discounts>
          <infoFields><field><name>DEVICE_MODEL</name><value>Pixel 9</value></field></infoFields>
        </contract>
      </contracts>
    </subCustomer>
  </subCustomers>
</customer>
</customerExport>
"""


def stable(kind: str, key: str) -> str:
    return str(parse_step(f"stable_id({kind})")(key))


@pytest.fixture
def bundle(mappings: Mappings) -> dict[str, Any]:
    (record,) = [
        mappings.document("customer", element)
        for element in xmlsafe.iterparse(io.BytesIO(EXPORT), mappings.record_tag("customer"))
    ]
    return record


def test_the_sample_is_a_valid_export() -> None:
    schema = etree.XMLSchema(etree.parse(str(WSDL_DIR / "cil-export.xsd")))
    assert schema.validate(etree.fromstring(EXPORT)), schema.error_log


def test_every_entity_of_the_bundle_is_accepted_by_its_model(bundle: dict[str, Any]) -> None:
    kinds = {
        "accounts": "account",
        "contracts": "contract",
        "subscribers": "subscriber",
        "services": "service_assignment",
        "discounts": "discount_assignment",
        "attribute_values": "attribute_value",
    }
    ENTITY_KINDS["customer"].model_validate(bundle["customer"])
    counts = {}
    for key, kind in kinds.items():
        counts[key] = len([ENTITY_KINDS[kind].model_validate(item) for item in bundle[key]])
    assert counts == {
        "accounts": 2,
        "contracts": 1,
        "subscribers": 1,
        "services": 2,
        "discounts": 2,
        "attribute_values": 2,  # CRM_SYNC is no attribute of the CRM
    }


def test_the_customer(bundle: dict[str, Any]) -> None:
    customer = ENTITY_KINDS["customer"].model_validate(bundle["customer"]).snapshot()
    assert customer["id"] == stable("customer", "C00000077")
    assert customer["customer_number"] == "C00000077"
    assert customer["party"] == {
        "kind": "organization",
        "name": "Acme Telecom & Co",
        "trading_name": "Acme",
        "legal_form": "GmbH",
    }
    assert customer["contact_media"] == [
        {"type": "email", "value": "Billing@acme.example", "preferred": False}
    ]
    assert [(a["role"], a["city"]) for a in customer["addresses"]] == [
        ("registration", "Berlin"),
        ("billing", "Berlin"),
        ("shipment", "Ludwigsfelde"),
    ]
    assert customer["addresses"][0]["lines"] == ["Friedrichstraße 1", "3. OG"]
    assert customer["addresses"][2]["valid_from"] == "2025-01-01"
    persons = customer["contact_persons"]
    assert [p["role"] for p in persons] == ["authorized_contact", "billing_contact"]
    assert persons[1]["contact_media"] == [
        {"type": "mobile", "value": "+493055512345", "preferred": False}
    ]
    assert persons[0]["id"] == stable("contact_person", "C00000077:1")


def test_the_hierarchy(bundle: dict[str, Any]) -> None:
    root, child = bundle["accounts"]
    assert root["id"] == stable("account", "C00000077")
    assert root["name"] == "Acme Telecom & Co"
    assert root["payment_responsible"] is True
    assert root["credit_limit"] == {"amount": Decimal("5000.00"), "currency": "EUR"}
    assert root["payment_method"] == "direct_debit"
    assert child["parent_id"] == root["id"]
    assert child["payment_responsible"] is False
    assert child["status"] == "suspended"
    assert bundle["legacy_ids"]["accounts"] == [
        {"number": "C00000077", "cs_id": 100077, "level": 1},
        {"number": "C00000077.1", "cs_id": 500001, "level": 2},
    ]


def test_contract_subscriber_and_services_hang_together(bundle: dict[str, Any]) -> None:
    (contract,) = bundle["contracts"]
    (subscriber,) = bundle["subscribers"]
    node = stable("account", "C00000077.1")
    assert contract["account_id"] == subscriber["account_id"] == node
    assert subscriber["contract_id"] == contract["id"]
    assert subscriber["msisdn"] == "+4915000000001"
    assert contract["status"] == "suspended"
    history = contract["status_history"]
    assert history[0] == {
        "status": "active",
        "at": datetime(2024, 3, 13, 19, 14, 56, tzinfo=UTC),
        "reason": "activated at sale",
    }
    assert history[1]["at"] == datetime(2025, 1, 11, 7, 0, tzinfo=UTC)
    data, forwarding = bundle["services"]
    assert data["service_code"] == "DATA" and forwarding["service_code"] == "CALL_FORWARDING"
    assert data["parameters"] == {"apn": "internet"}
    assert data["limits"] == [{"name": "data_cap", "value": Decimal(20), "unit": "GB"}]
    assert {s["subscriber_id"] for s in bundle["services"]} == {subscriber["id"]}
    assert forwarding["status"] == "suspended"


def test_discounts_and_attributes_land_on_the_right_level(bundle: dict[str, Any]) -> None:
    frame, welcome = bundle["discounts"]
    assert frame["level"] == "account" and frame["inherited"] is True
    assert frame["account_id"] == stable("account", "C00000077")
    assert "contract_id" not in frame
    assert welcome["level"] == "subscriber" and welcome["inherited"] is False
    assert welcome["subscriber_id"] == stable("subscriber", "CO000000001")
    assert welcome["valid_to"] == date(2025, 1, 31)
    tier, device = bundle["attribute_values"]
    assert (tier["name"], tier["entity_kind"], tier["value"]) == (
        "loyalty_tier",
        "customer",
        "gold",
    )
    assert (device["name"], device["entity_kind"]) == ("device_model", "subscriber")
    assert device["entity_id"] == stable("subscriber", "CO000000001")


UDR = b"""<usageBatch xmlns="urn:bscs:export:v1" createdAt="2025-01-31T00:00:00Z" system="BSCS">
<udr><udrId>70000001</udrId><custCode>C00000077</custCode><csIdPub>C00000077.1</csIdPub>
<coIdPub>CO000000001</coIdPub><dnNum>4915000000001</dnNum><startTime>2025-01-05T10:00:00Z</startTime>
<usageType>ROAM_VOICE</usageType><direction>MT</direction><otherParty>+33612345678</otherParty>
<durationSec>61</durationSec><charge><amount>0.49</amount><currency>EUR</currency></charge>
<roamingCountry>FR</roamingCountry></udr>
</usageBatch>"""


def test_a_usage_record(mappings: Mappings) -> None:
    (result,) = [
        mappings.document("udr", e)
        for e in xmlsafe.iterparse(io.BytesIO(UDR), mappings.record_tag("udr"))
    ]
    record = ENTITY_KINDS["usage_record"].model_validate(result["usage_record"]).snapshot()
    assert record["subscriber_id"] == stable("subscriber", "CO000000001")
    assert record["customer_id"] == stable("customer", "C00000077")
    assert (record["type"], record["direction"]) == ("roaming_voice", "incoming")
    assert record["charge"] == {"amount": "0.49", "currency": "EUR"}
    assert record["duration_seconds"] == 61
    assert result["legacy_ids"]["msisdn"] == "+4915000000001"


def test_a_record_with_an_unknown_code_is_refused_with_the_table(mappings: Mappings) -> None:
    broken = UDR.replace(b"<usageType>ROAM_VOICE", b"<usageType>TELEX")
    with pytest.raises(TranslationError, match=r"documents/usage_batch.yaml.*usage_types.*TELEX"):
        for element in xmlsafe.iterparse(io.BytesIO(broken), mappings.record_tag("udr")):
            mappings.document("udr", element)


def test_an_element_of_another_kind_is_refused(mappings: Mappings) -> None:
    element = etree.fromstring(UDR)
    with pytest.raises(MappingFailed, match=r"maps \{urn:bscs:export:v1\}udr elements"):
        mappings.document("udr", element)
    assert mappings.root_tag("udr") == element.tag
