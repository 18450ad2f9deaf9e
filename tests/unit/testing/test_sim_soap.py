"""SOAP 1.1 helpers of the billing simulator: envelope checks, typed reading, faults."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from lxml import etree

from adapter.testing.billing_sim.codes import CmsError
from adapter.testing.billing_sim.soap import (
    fault,
    parse_xs_date,
    parse_xs_datetime,
    request_element,
    unpack,
    username_token,
)

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def envelope(inner: str) -> object:
    return etree.fromstring(
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:c="urn:bscs:cil:v7">{inner}</s:Envelope>'
    )


def test_request_elements_are_named_after_the_operation() -> None:
    assert request_element("CustomersSearch") == "customersSearchRequest"


def test_unpack_finds_the_operation_of_the_body_element() -> None:
    env = unpack(envelope("<s:Header/><s:Body><c:balancesReadRequest/></s:Body>"))
    assert env.operation == "BalancesRead"
    assert env.headers == []


def test_a_header_after_the_body_is_refused() -> None:
    with pytest.raises(CmsError, match="unexpected element") as caught:
        unpack(envelope("<s:Body><c:balancesReadRequest/></s:Body><s:Header/>"))
    assert caught.value.code == "CMS.SOAP0002"


def test_comments_around_the_request_are_ignored() -> None:
    env = unpack(envelope("<!-- a --><s:Body><!-- b --><c:contractReadRequest/></s:Body>"))
    assert env.operation == "ContractRead"


def test_a_security_header_without_password_is_refused() -> None:
    header = etree.fromstring(
        '<w:Security xmlns:w="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd"><w:UsernameToken>'
        "<w:Username>u</w:Username></w:UsernameToken></w:Security>"
    )
    with pytest.raises(CmsError, match="wsse:Password") as caught:
        username_token([header])
    assert caught.value.code == "CMS.SEC0001"


@pytest.mark.parametrize(
    "text", ["2024-05-17", "2024-05-17Z", "2024-05-17+02:00", "2024-05-17-05:00"]
)
def test_an_xs_date_keeps_its_day_whatever_the_zone(text: str) -> None:
    assert parse_xs_date(text) == date(2024, 5, 17)


def test_an_xs_datetime_without_zone_is_utc() -> None:
    assert parse_xs_datetime("2024-05-17T10:00:00") == datetime(2024, 5, 17, 10, tzinfo=UTC)
    assert parse_xs_datetime("2024-05-17T12:00:00+02:00") == datetime(2024, 5, 17, 10, tzinfo=UTC)


def test_a_fault_carries_code_message_and_parameters_in_cms_fault() -> None:
    root = etree.fromstring(fault("Server", "no", code="CMS.RC6701", parameters=["7"]))
    ns = {"s": SOAP, "c": "urn:bscs:cil:v7"}
    node = root.find("s:Body/s:Fault", ns)
    assert node.findtext("faultcode") == "soap:Server"
    assert node.findtext("detail/c:cmsFault/c:code", namespaces=ns) == "CMS.RC6701"
    assert node.findtext("detail/c:cmsFault/c:parameter", namespaces=ns) == "7"


def test_a_fault_without_code_has_no_detail() -> None:
    root = etree.fromstring(fault("Server", "Internal Server Error"))
    assert root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault/detail") is None


def test_a_cms_error_with_an_unknown_code_is_a_bug_of_the_simulator() -> None:
    with pytest.raises(ValueError, match="unknown CMS code"):
        CmsError("CMS.NOPE", "x")
