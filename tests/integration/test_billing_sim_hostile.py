"""Malicious and broken requests at the simulator: each gets a clear client fault, in bounded
time, and nothing is read from disk or from the network on the request's say-so."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapter.testing.billing_sim import RunningSimulator, SimConfig, run_in_thread
from adapter.testing.cil_client import CilClient, read_reply

USER, PASSWORD = "crm-adapter", "s3cret"
QUICK = 2.0  # seconds any refusal may take, on a slow CI machine
SECRET = "TOP-SECRET-0815"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    config = SimConfig(data_dir=tmp_path_factory.mktemp("sim"), users={USER: PASSWORD})
    with run_in_thread(config) as running:
        yield running


@pytest.fixture(scope="module")
def cil(sim: RunningSimulator) -> Iterator[CilClient]:
    with CilClient(sim.soap_url, USER, PASSWORD) as client:
        yield client


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def trap() -> Iterator[tuple[str, socket.socket]]:
    """A listening socket an attack would make the simulator connect to."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.3)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/x", listener
    listener.close()


def nobody_called(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        return True
    conn.close()
    return False


def send(cil: CilClient, data: bytes) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = cil.post(data)
    return response, time.monotonic() - started


def fault_with(response: httpx.Response, code: str, faultcode: str = "soap:Client") -> str:
    """The faultstring of the fault in ``response``, checked to have ``code`` and ``faultcode``."""
    reply = read_reply(response)
    assert reply.fault is not None, response.text
    assert (reply.fault.faultcode, reply.fault.code) == (faultcode, code), reply.fault
    return reply.fault.faultstring


def with_doctype(cil: CilClient, doctype: str, inputs: str) -> bytes:
    body = cil.envelope("CustomerRead", inputs).decode()
    declaration, rest = body.split("\n", 1)
    return f"{declaration}\n{doctype}\n{rest}".encode()


def test_malformed_xml_is_a_client_fault_saying_so(cil: CilClient) -> None:
    response, took = send(cil, b"<soap:Envelope><unclosed></soap:Envelope>")
    assert response.status_code == 500
    assert "not well-formed" in fault_with(response, "CMS.SOAP0001")
    assert took < QUICK


def test_an_empty_body_is_a_fault_with(cil: CilClient) -> None:
    response, _ = send(cil, b"")
    assert "empty" in fault_with(response, "CMS.SOAP0001")


def test_binary_junk_is_a_fault_with(cil: CilClient) -> None:
    response, _ = send(cil, bytes(range(256)) * 4)
    fault_with(response, "CMS.SOAP0001")


def test_a_doctype_is_refused_before_parsing(cil: CilClient) -> None:
    data = with_doctype(cil, "<!DOCTYPE soap:Envelope>", "<c:csId>1</c:csId>")
    response, _ = send(cil, data)
    assert "DOCTYPE" in fault_with(response, "CMS.SOAP0001")


def test_an_internal_entity_is_refused(cil: CilClient) -> None:
    data = with_doctype(cil, '<!DOCTYPE e [<!ENTITY who "CUST1">]>', "<c:csIdPub>&who;</c:csIdPub>")
    response, _ = send(cil, data)
    fault_with(response, "CMS.SOAP0001")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "SECRET_FILE"])
def test_an_external_file_entity_reads_nothing(
    cil: CilClient, secret_file: Path, target: str
) -> None:
    url = secret_file.as_uri() if target == "SECRET_FILE" else target
    data = with_doctype(
        cil, f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "{url}">]>', "<c:csIdPub>&xxe;</c:csIdPub>"
    )
    response, took = send(cil, data)
    fault_with(response, "CMS.SOAP0001")
    assert SECRET not in response.text
    assert "root:" not in response.text
    assert took < QUICK


def test_an_external_network_entity_opens_no_connection(
    cil: CilClient, trap: tuple[str, socket.socket]
) -> None:
    url, listener = trap
    data = with_doctype(
        cil, f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "{url}">]>', "<c:csIdPub>&xxe;</c:csIdPub>"
    )
    response, _ = send(cil, data)
    fault_with(response, "CMS.SOAP0001")
    assert nobody_called(listener)


def test_a_parameter_entity_dtd_fetch_opens_no_connection(
    cil: CilClient, trap: tuple[str, socket.socket]
) -> None:
    url, listener = trap
    data = with_doctype(cil, f'<!DOCTYPE e [<!ENTITY % p SYSTEM "{url}"> %p;]>', "")
    response, _ = send(cil, data)
    fault_with(response, "CMS.SOAP0001")
    assert nobody_called(listener)


def test_a_schema_location_in_the_request_is_not_fetched(
    cil: CilClient, trap: tuple[str, socket.socket]
) -> None:
    url, listener = trap
    data = cil.envelope("CustomerRead", "<c:csId>1</c:csId>").replace(
        b"<c:customerReadRequest>",
        b'<c:customerReadRequest xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xsi:schemaLocation="urn:bscs:cil:v7 ' + url.encode() + b'">',
    )
    response, _ = send(cil, data)
    # the request was valid (against cil.xsd from disk) and reached the handler
    fault_with(response, "CMS.RC6701", faultcode="soap:Server")
    assert nobody_called(listener)


def test_an_xinclude_is_not_processed(cil: CilClient, secret_file: Path) -> None:
    inputs = (
        '<c:csIdPub><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        f'href="{secret_file.as_uri()}" parse="text"/></c:csIdPub>'
    )
    response, _ = send(cil, cil.envelope("CustomerRead", inputs))
    fault_with(response, "CMS.VAL0001")
    assert SECRET not in response.text


def test_billion_laughs_is_refused_at_once(cil: CilClient) -> None:
    entities = '<!ENTITY l0 "ha">' + "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    data = with_doctype(cil, f"<!DOCTYPE e [{entities}]>", "<c:csIdPub>&l9;</c:csIdPub>")
    response, took = send(cil, data)
    fault_with(response, "CMS.SOAP0001")
    assert took < QUICK


def test_a_huge_entity_free_value_near_the_cap_is_refused_in_bounded_time(
    cil: CilClient,
) -> None:
    """Quadratic blow-up without entities: one value of almost 1 MiB."""
    data = cil.envelope("CustomerRead", f"<c:csIdPub>{'A' * 1_040_000}</c:csIdPub>")
    assert len(data) < 1_048_576
    response, took = send(cil, data)
    message = fault_with(response, "CMS.VAL0001")
    assert "csIdPub" in message
    assert len(response.content) < 4096  # the bad value is not echoed whole
    assert took < QUICK


def test_a_huge_attribute_near_the_cap_is_refused_in_bounded_time(cil: CilClient) -> None:
    data = cil.envelope("CustomerRead", f'<c:csId junk="{"B" * 1_040_000}">1</c:csId>')
    response, took = send(cil, data)
    assert "junk" in fault_with(response, "CMS.VAL0001")
    assert took < QUICK


def test_deep_nesting_is_refused(cil: CilClient) -> None:
    inputs = "<c:csId>" + "<a>" * 5000 + "</a>" * 5000 + "</c:csId>"
    response, took = send(cil, cil.envelope("CustomerRead", inputs))
    assert "depth" in fault_with(response, "CMS.SOAP0001")
    assert took < QUICK


def test_a_body_over_the_cap_is_413_with_a_fault_with(cil: CilClient) -> None:
    data = cil.envelope("CustomerRead", f"<c:csIdPub>{'A' * 1_100_000}</c:csIdPub>")
    response, took = send(cil, data)
    assert response.status_code == 413
    assert "1048576" in fault_with(response, "CMS.SOAP0004")
    assert took < QUICK


def test_a_wrong_envelope_namespace_is_a_client_fault_naming_it(cil: CilClient) -> None:
    data = cil.envelope("CustomerRead", "<c:csId>1</c:csId>").replace(
        b"http://schemas.xmlsoap.org/soap/envelope/", b"urn:not-soap"
    )
    response, _ = send(cil, data)
    assert "urn:not-soap" in fault_with(response, "CMS.SOAP0002")


def test_a_body_of_another_namespace_is_a_client_fault_naming_it(cil: CilClient) -> None:
    data = (
        cil.envelope("CustomerRead", "<c:csId>1</c:csId>")
        .replace(b"<soap:Body>", b'<b:Body xmlns:b="urn:not-soap-body">')
        .replace(b"</soap:Body>", b"</b:Body>")
    )
    response, _ = send(cil, data)
    assert "urn:not-soap-body" in fault_with(response, "CMS.SOAP0002")


def test_a_soap_12_envelope_is_a_version_mismatch(cil: CilClient) -> None:
    data = cil.envelope("CustomerRead", "<c:csId>1</c:csId>").replace(
        b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
    )
    response, _ = send(cil, data)
    message = fault_with(response, "CMS.SOAP0002", "soap:VersionMismatch")
    assert "SOAP 1.2" in message


def test_an_envelope_without_body_is_a_fault_with(cil: CilClient) -> None:
    data = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Header/></soap:Envelope>"
    )
    response, _ = send(cil, data)
    assert "no soap:Body" in fault_with(response, "CMS.SOAP0002")


def test_two_requests_in_one_body_are_a_fault_with(cil: CilClient) -> None:
    one = cil.envelope("CustomerRead", "<c:csId>1</c:csId>")
    start = one.index(b"<c:customerReadRequest>")
    end = one.index(b"</soap:Body>")
    data = one[:end] + one[start:end] + one[end:]
    response, _ = send(cil, data)
    assert "2 elements" in fault_with(response, "CMS.SOAP0002")


def test_a_request_element_of_another_namespace_is_a_client_fault_naming_it(
    cil: CilClient,
) -> None:
    data = cil.envelope("CustomerRead", "<c:csId>1</c:csId>").replace(
        b'xmlns:c="urn:bscs:cil:v7"', b'xmlns:c="urn:bscs:cil:v6"'
    )
    response, _ = send(cil, data)
    assert "urn:bscs:cil:v6" in fault_with(response, "CMS.SOAP0003")


def test_an_unknown_operation_is_a_client_fault_naming_it(cil: CilClient) -> None:
    data = cil.envelope("CustomerDelete", "<c:csId>1</c:csId>")
    response, _ = send(cil, data)
    assert "customerDeleteRequest" in fault_with(response, "CMS.SOAP0003")
