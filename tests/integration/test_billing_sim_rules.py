"""The rules a BSCS applies, and the checks on every request (security, session, schema),
seen as SOAP faults over HTTP: the faultcode, the cmsFault code and a message that says what
is wrong."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapter.testing.billing_sim import RunningSimulator, SimConfig, run_in_thread
from adapter.testing.cil_client import CilClient, CilFault, CilReply

USER, PASSWORD = "crm-adapter", "s3cret"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    config = SimConfig(
        data_dir=tmp_path_factory.mktemp("sim"),
        users={USER: PASSWORD},
        business_units=frozenset({"1", "EAST"}),
    )
    with run_in_thread(config) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def cil(sim: RunningSimulator, http: httpx.Client) -> CilClient:
    http.post(f"{sim.admin_url}/reset").raise_for_status()
    return CilClient(sim.soap_url, USER, PASSWORD, http=http)


def fault_of(reply: CilReply, code: str, faultcode: str = "soap:Server") -> CilFault:
    """The fault of ``reply``, checked to be HTTP 500 with ``faultcode`` and ``code``."""
    assert reply.fault is not None, f"expected a fault, got HTTP {reply.status}"
    assert reply.status == 500
    assert (reply.fault.faultcode, reply.fault.code) == (faultcode, code), reply.fault
    assert reply.fault.message == reply.fault.faultstring
    return reply.fault


def customer(cil: CilClient, pays: bool = True, parent: int | None = None) -> int:
    inputs = (
        (f"<c:parent><c:csId>{parent}</c:csId></c:parent>" if parent else "")
        + f"<c:paymentResp>{str(pays).lower()}</c:paymentResp>"
        "<c:customer><c:partyType>O</c:partyType><c:companyName>ACME</c:companyName>"
        "</c:customer>"
    )
    return int(cil.ok("CustomerNew", inputs).text("c:csId") or 0)


def contract(cil: CilClient, cs_id: int, dn: str = "4917012340001") -> CilReply:
    return cil.call(
        "ContractNew",
        f"<c:customer><c:csId>{cs_id}</c:csId></c:customer><c:rpCode>RP_S</c:rpCode>"
        f"<c:dnNum>{dn}</c:dnNum>",
    )


def new_contract(cil: CilClient, cs_id: int, dn: str = "4917012340001") -> int:
    reply = contract(cil, cs_id, dn)
    assert reply.status == 200, reply.fault
    return int(reply.text("c:coId") or 0)


def set_status(cil: CilClient, co_id: int, status: str) -> CilReply:
    return cil.call("ContractWrite", f"<c:coId>{co_id}</c:coId><c:coStatus>{status}</c:coStatus>")


def move(cil: CilClient, node: int, parent: int | None, pays: bool = True) -> CilReply:
    return cil.call(
        "CustomerHierarchyWrite",
        f"<c:customer><c:csId>{node}</c:csId></c:customer>"
        + (f"<c:parent><c:csId>{parent}</c:csId></c:parent>" if parent else "")
        + f"<c:paymentResp>{str(pays).lower()}</c:paymentResp>",
    )


# ------------------------------------------------------------------------- business rules


def test_an_unknown_customer_is_cms_rc6701_naming_the_id(cil: CilClient) -> None:
    fault = fault_of(cil.call("CustomerRead", "<c:csIdPub>NOPE-1</c:csIdPub>"), "CMS.RC6701")
    assert "csIdPub NOPE-1" in fault.faultstring
    assert fault.parameters == ("NOPE-1",)


def test_an_unknown_contract_is_cms_rc6702(cil: CilClient) -> None:
    fault_of(cil.call("ContractRead", "<c:coId>42</c:coId>"), "CMS.RC6702")


def test_ids_of_a_pair_that_name_different_objects_are_cms_rc6703(cil: CilClient) -> None:
    cs_id = customer(cil)
    reply = cil.call("CustomerRead", f"<c:csId>{cs_id}</c:csId><c:csIdPub>OTHER</c:csIdPub>")
    fault_of(reply, "CMS.RC6703")


def test_a_reference_without_any_id_is_cms_rc6700(cil: CilClient) -> None:
    fault = fault_of(cil.call("CustomerRead", ""), "CMS.RC6700")
    assert "csId or csIdPub" in fault.faultstring


@pytest.mark.parametrize(
    ("path", "final", "refused"),
    [(["a", "s"], "s", "o"), (["d"], "d", "a"), (["a"], "a", "a"), ([], "o", "s")],
)
def test_a_contract_status_change_outside_the_bscs_transitions_is_cms_rc6710(
    cil: CilClient, path: list[str], final: str, refused: str
) -> None:
    co_id = new_contract(cil, customer(cil))
    for status in path:
        assert set_status(cil, co_id, status).status == 200
    fault = fault_of(set_status(cil, co_id, refused), "CMS.RC6710")
    assert final in fault.parameters or "nothing leaves" in fault.faultstring
    status = cil.ok("ContractRead", f"<c:coId>{co_id}</c:coId>").text("c:coStatus")
    assert status == final


def test_a_new_contract_for_a_deactivated_customer_is_cms_rc6711(cil: CilClient) -> None:
    cs_id = customer(cil)
    cil.ok("CustomerWrite", f"<c:csId>{cs_id}</c:csId><c:customer><c:csStatus>d</c:csStatus>"
           "</c:customer>")  # fmt: skip
    fault_of(contract(cil, cs_id), "CMS.RC6711")


def test_deactivating_a_customer_with_live_contracts_is_cms_rc6713(cil: CilClient) -> None:
    cs_id = customer(cil)
    new_contract(cil, cs_id)
    reply = cil.call(
        "CustomerWrite",
        f"<c:csId>{cs_id}</c:csId><c:customer><c:csStatus>d</c:csStatus></c:customer>",
    )
    fault_of(reply, "CMS.RC6713")


def test_a_taken_public_id_is_cms_rc6720(cil: CilClient) -> None:
    inputs = (
        "<c:csIdPub>C-1</c:csIdPub><c:paymentResp>true</c:paymentResp><c:customer>"
        "<c:partyType>I</c:partyType><c:lastName>Roe</c:lastName></c:customer>"
    )
    cil.ok("CustomerNew", inputs)
    fault_of(cil.call("CustomerNew", inputs), "CMS.RC6720")


def test_an_msisdn_held_by_a_live_contract_is_cms_rc6721(cil: CilClient) -> None:
    cs_id = customer(cil)
    holder = new_contract(cil, cs_id)
    fault = fault_of(contract(cil, customer(cil)), "CMS.RC6721")
    assert "4917012340001" not in fault.faultstring  # no MSISDN in messages (PII)
    assert fault.parameters == (f"CONTR{holder:07d}",)


def test_an_msisdn_is_free_again_once_its_contract_is_deactivated(cil: CilClient) -> None:
    old = new_contract(cil, customer(cil))
    assert set_status(cil, old, "d").status == 200
    assert contract(cil, customer(cil)).status == 200


def test_a_move_under_the_own_subtree_is_cms_rc6730(cil: CilClient) -> None:
    top = customer(cil)
    middle = customer(cil, parent=top)
    leaf = customer(cil, parent=middle)
    fault_of(move(cil, top, leaf), "CMS.RC6730")
    assert cil.ok("CustomerRead", f"<c:csId>{top}</c:csId>").text("c:parentCsId") is None


def test_a_move_under_itself_is_cms_rc6730(cil: CilClient) -> None:
    node = customer(cil)
    fault_of(move(cil, node, node), "CMS.RC6730")


def test_a_node_without_payment_responsibility_needs_a_parent_cms_rc6731(
    cil: CilClient,
) -> None:
    node = customer(cil)
    fault_of(move(cil, node, None, pays=False), "CMS.RC6731")


def test_a_new_customer_that_does_not_pay_needs_a_parent_cms_rc6731(cil: CilClient) -> None:
    reply = cil.call(
        "CustomerNew",
        "<c:paymentResp>false</c:paymentResp><c:customer><c:partyType>I</c:partyType>"
        "<c:lastName>Roe</c:lastName></c:customer>",
    )
    fault_of(reply, "CMS.RC6731")


def test_a_service_not_in_the_catalogue_is_cms_rc6740(cil: CilClient) -> None:
    co_id = new_contract(cil, customer(cil))
    reply = cil.call(
        "ContractServicesAdd",
        f"<c:contract><c:coId>{co_id}</c:coId></c:contract><c:services><c:service>"
        "<c:snCodePub>TELEPORT</c:snCodePub></c:service></c:services>",
    )
    assert fault_of(reply, "CMS.RC6740").parameters == ("TELEPORT",)


def test_a_discount_code_not_in_the_catalogue_is_cms_rc6751(cil: CilClient) -> None:
    reply = cil.call(
        "DiscountAssign",
        f"<c:customer><c:csId>{customer(cil)}</c:csId></c:customer><c:kind>D</c:kind>"
        "<c:pdCode>FREE4EVER</c:pdCode><c:value>100</c:value><c:valueType>P</c:valueType>",
    )
    fault_of(reply, "CMS.RC6751")


def test_an_unknown_discount_assignment_is_cms_rc6750(cil: CilClient) -> None:
    fault_of(cil.call("DiscountRemove", "<c:assignId>123</c:assignId>"), "CMS.RC6750")


def test_removing_a_discount_twice_is_cms_rc6752(cil: CilClient) -> None:
    assigned = cil.ok(
        "DiscountAssign",
        f"<c:customer><c:csId>{customer(cil)}</c:csId></c:customer><c:kind>D</c:kind>"
        "<c:pdCode>LOYAL10</c:pdCode><c:value>10</c:value><c:valueType>P</c:valueType>",
    )
    remove = f"<c:assignId>{assigned.text('c:assignId')}</c:assignId>"
    assert cil.call("DiscountRemove", remove).status == 200
    fault_of(cil.call("DiscountRemove", remove), "CMS.RC6752")


def test_a_refused_write_changes_nothing(cil: CilClient) -> None:
    """The handler's transaction is rolled back on a business fault."""
    cs_id = customer(cil)
    co_id = new_contract(cil, cs_id)
    reply = cil.call(
        "ContractServicesAdd",
        f"<c:contract><c:coId>{co_id}</c:coId></c:contract><c:services>"
        "<c:service><c:snCodePub>VOICE</c:snCodePub></c:service>"
        "<c:service><c:snCodePub>TELEPORT</c:snCodePub></c:service></c:services>",
    )
    fault_of(reply, "CMS.RC6740")
    services = cil.ok("ContractServicesRead", f"<c:coId>{co_id}</c:coId>")
    assert services.texts("c:services/c:service") == []


# ------------------------------------------------------------------ security and session


def test_a_wrong_password_is_a_client_fault_cms_sec0002(sim: RunningSimulator) -> None:
    with CilClient(sim.soap_url, USER, "guess") as intruder:
        fault = fault_of(
            intruder.call("CustomerRead", "<c:csId>1</c:csId>"), "CMS.SEC0002", "soap:Client"
        )
    assert "authentication failed" in fault.faultstring
    assert "guess" not in fault.faultstring


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(sim: RunningSimulator) -> None:
    with CilClient(sim.soap_url, "mallory", PASSWORD) as intruder:
        fault = fault_of(
            intruder.call("CustomerRead", "<c:csId>1</c:csId>"), "CMS.SEC0002", "soap:Client"
        )
    assert "mallory" not in fault.faultstring


def test_a_request_without_security_header_is_cms_sec0001(cil: CilClient) -> None:
    reply = cil.call("CustomerRead", "<c:csId>1</c:csId>", header="")
    fault = fault_of(reply, "CMS.SEC0001", "soap:Client")
    assert "wsse:Security" in fault.faultstring


def test_a_digest_password_is_refused_naming_the_type(cil: CilClient) -> None:
    header = cil.security().replace("#PasswordText", "#PasswordDigest")
    reply = cil.call("CustomerRead", "<c:csId>1</c:csId>", header=header)
    assert "PasswordDigest" in fault_of(reply, "CMS.SEC0001", "soap:Client").faultstring


def test_a_request_without_bu_id_is_cms_ses0001(sim: RunningSimulator, http: httpx.Client) -> None:
    client = CilClient(sim.soap_url, USER, PASSWORD, business_unit=None, http=http)
    fault = fault_of(
        client.call("CustomerRead", "<c:csId>1</c:csId>"), "CMS.SES0001", "soap:Client"
    )
    assert "BU_ID" in fault.faultstring


def test_an_unknown_business_unit_is_cms_ses0002(sim: RunningSimulator, http: httpx.Client) -> None:
    client = CilClient(sim.soap_url, USER, PASSWORD, business_unit="WEST", http=http)
    reply = client.call("CustomerRead", "<c:csId>1</c:csId>")
    assert fault_of(reply, "CMS.SES0002", "soap:Client").parameters == ("WEST",)


def test_every_configured_business_unit_is_accepted(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    client = CilClient(sim.soap_url, USER, PASSWORD, business_unit="EAST", http=http)
    fault_of(client.call("CustomerRead", "<c:csId>1</c:csId>"), "CMS.RC6701")


# -------------------------------------------------------------------------------- schema


def test_a_value_against_the_schema_is_a_client_fault_naming_line_and_element(
    cil: CilClient,
) -> None:
    reply = cil.call(
        "ContractNew",
        "<c:customer><c:csId>1</c:csId></c:customer><c:rpCode>RP_S</c:rpCode>"
        "<c:dnNum>not-a-number</c:dnNum>",
    )
    fault = fault_of(reply, "CMS.VAL0001", "soap:Client")
    assert "cil.xsd" in fault.faultstring
    assert "line 5" in fault.faultstring  # the line of inputAttributes in the envelope
    assert "cil:dnNum" in fault.faultstring
    assert "not-a-number" in fault.faultstring


def test_a_missing_required_element_is_a_schema_fault_naming_it(cil: CilClient) -> None:
    reply = cil.call("CustomerNew", "<c:customer><c:partyType>I</c:partyType></c:customer>")
    fault = fault_of(reply, "CMS.VAL0001", "soap:Client")
    assert "paymentResp" in fault.faultstring


def test_an_element_the_schema_does_not_know_is_a_schema_fault(cil: CilClient) -> None:
    reply = cil.call("CustomerRead", "<c:csId>1</c:csId><c:shoeSize>44</c:shoeSize>")
    assert "shoeSize" in fault_of(reply, "CMS.VAL0001", "soap:Client").faultstring


def test_a_soap_action_for_another_operation_is_cms_soap0003(cil: CilClient) -> None:
    response = cil.post(
        cil.envelope("CustomerRead", "<c:csId>1</c:csId>"), operation="CustomerWrite"
    )
    assert response.status_code == 500
    assert b"CMS.SOAP0003" in response.content
    assert b"CustomerWrite" in response.content


def test_a_header_that_must_be_understood_and_is_not_is_a_must_understand_fault(
    cil: CilClient,
) -> None:
    header = cil.security() + '<t:Trace xmlns:t="urn:x" soap:mustUnderstand="1">1</t:Trace>'
    reply = cil.call("CustomerRead", "<c:csId>1</c:csId>", header=header)
    fault_of(reply, "CMS.SOAP0005", "soap:MustUnderstand")
