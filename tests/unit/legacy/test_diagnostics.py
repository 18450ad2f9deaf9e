"""What a failed legacy call may put into a log: nothing personal, nothing secret."""

from __future__ import annotations

from adapter.legacy.diagnostics import masked

ENVELOPE = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:cil="urn:bscs:cil:v7"
  xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
  <soapenv:Header><wsse:Security><wsse:UsernameToken>
    <wsse:Username>crm-adapter</wsse:Username><wsse:Password>s3cret-pass</wsse:Password>
  </wsse:UsernameToken></wsse:Security></soapenv:Header>
  <soapenv:Body><cil:customerNewRequest><cil:inputAttributes>
    <cil:customer><cil:lastName>Kowalczyk</cil:lastName><cil:email>anna@example.org</cil:email>
    <cil:segment>residential</cil:segment></cil:customer>
  </cil:inputAttributes></cil:customerNewRequest></soapenv:Body>
</soapenv:Envelope>"""


def test_personal_data_is_masked() -> None:
    text = masked(ENVELOPE) or ""
    assert "Kowalczyk" not in text and "anna@example.org" not in text
    assert "*******yk" in text


def test_the_password_is_hidden_whole() -> None:
    text = masked(ENVELOPE) or ""
    assert "s3cret" not in text and "ss" not in text.split("Password>")[1][:4]


def test_other_values_stay_readable() -> None:
    assert "residential" in (masked(ENVELOPE) or "")


def test_a_body_that_is_not_xml_is_described_not_shown() -> None:
    page = b"<html><body>Customer Kowalczyk not found</body></html"
    text = masked(page) or ""
    assert "Kowalczyk" not in text and text.startswith(f"<{len(page)} bytes, not readable XML")


def test_nothing_to_mask_gives_none() -> None:
    assert masked(None) is None
