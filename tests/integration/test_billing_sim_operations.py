"""Every CIL operation of the billing simulator, called over real HTTP by a second, independent
client (hand-written envelopes, httpx, lxml; no zeep), checking what comes back."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from adapter.testing.billing_sim import RunningSimulator, SimConfig, run_in_thread
from adapter.testing.cil_client import CilClient, CilReply, x

USER, PASSWORD = "crm-adapter", "s3cret"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    config = SimConfig(data_dir=tmp_path_factory.mktemp("sim"), users={USER: PASSWORD})
    with run_in_thread(config) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def cil(sim: RunningSimulator, http: httpx.Client) -> CilClient:
    """A client against a simulator wiped before each test."""
    http.post(f"{sim.admin_url}/reset").raise_for_status()
    return CilClient(sim.soap_url, USER, PASSWORD, http=http)


ADDRESS = (
    "<c:address><c:adrRole>B</c:adrRole><c:adrRole>R</c:adrRole>"
    "<c:adrLine>Invalidenstr. 1</c:adrLine><c:adrLine>Hinterhaus</c:adrLine>"
    "<c:adrZip>10115</c:adrZip><c:adrCity>Berlin</c:adrCity><c:adrCountry>DE</c:adrCountry>"
    "</c:address>"
)


def new_customer(
    cil: CilClient,
    last: str = "Müller",
    *,
    pub: str | None = None,
    parent: int | None = None,
    pays: bool = True,
    extra: str = "",
    addresses: str = "",
) -> tuple[int, str]:
    inputs = (
        (f"<c:csIdPub>{pub}</c:csIdPub>" if pub else "")
        + (f"<c:parent><c:csId>{parent}</c:csId></c:parent>" if parent else "")
        + f"<c:paymentResp>{'true' if pays else 'false'}</c:paymentResp>"
        + f"<c:customer><c:partyType>I</c:partyType><c:firstName>Ana</c:firstName>"
        f"<c:lastName>{x(last)}</c:lastName>{extra}</c:customer>"
        + (f"<c:addresses>{addresses}</c:addresses>" if addresses else "")
    )
    reply = cil.ok("CustomerNew", inputs)
    return int(reply.text("c:csId") or 0), reply.text("c:csIdPub") or ""


def new_contract(
    cil: CilClient, cs_id: int, dn: str = "4917012340001", status: str | None = None
) -> tuple[int, str]:
    inputs = (
        f"<c:customer><c:csId>{cs_id}</c:csId></c:customer><c:rpCode>RP_M</c:rpCode>"
        f"<c:dnNum>{dn}</c:dnNum><c:imsi>262011234500001</c:imsi>"
        + (f"<c:coStatus>{status}</c:coStatus>" if status else "")
    )
    reply = cil.ok("ContractNew", inputs)
    return int(reply.text("c:coId") or 0), reply.text("c:coIdPub") or ""


def read_customer(cil: CilClient, cs_id: int) -> CilReply:
    return cil.ok("CustomerRead", f"<c:csId>{cs_id}</c:csId>")


def read_contract(cil: CilClient, co_id: int) -> CilReply:
    return cil.ok("ContractRead", f"<c:coId>{co_id}</c:coId>")


# ----------------------------------------------------------------------------- customers


def test_customer_new_answers_an_internal_id_and_a_generated_public_id(cil: CilClient) -> None:
    cs_id, pub = new_customer(cil)
    assert cs_id > 0
    assert pub == f"CUST{cs_id:07d}"


def test_customer_new_keeps_a_given_public_id(cil: CilClient) -> None:
    _, pub = new_customer(cil, pub="C-1001")
    assert pub == "C-1001"


def test_customer_read_returns_party_data_hierarchy_and_numbered_addresses(
    cil: CilClient,
) -> None:
    top, top_pub = new_customer(cil, "Konzern")
    cs_id, pub = new_customer(
        cil,
        "Müller",
        parent=top,
        pays=False,
        extra="<c:birthDate>1984-05-17</c:birthDate><c:email>ana@example.org</c:email>",
        addresses=ADDRESS + ADDRESS.replace("Berlin", "Potsdam"),
    )
    reply = read_customer(cil, cs_id)
    assert reply.text("c:csIdPub") == pub
    assert reply.text("c:parentCsId") == str(top)
    assert reply.text("c:parentCsIdPub") == top_pub
    assert reply.text("c:csLevel") == "2"
    assert reply.text("c:paymentResp") == "false"
    assert reply.text("c:customer/c:lastName") == "Müller"
    assert reply.text("c:customer/c:birthDate") == "1984-05-17"
    assert reply.text("c:customer/c:csStatus") == "a"
    assert reply.texts("c:addresses/c:address/c:adrSeq") == ["1", "2"]
    assert reply.texts("c:addresses/c:address/c:adrCity") == ["Berlin", "Potsdam"]
    assert reply.texts("c:addresses/c:address[1]/c:adrRole") == ["B", "R"]
    assert reply.texts("c:addresses/c:address[1]/c:adrLine") == ["Invalidenstr. 1", "Hinterhaus"]


def test_customer_write_changes_only_the_fields_sent(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil, extra="<c:email>old@example.org</c:email>")
    cil.ok(
        "CustomerWrite",
        f"<c:csId>{cs_id}</c:csId><c:customer><c:email>new@example.org</c:email>"
        "<c:creditLimit><c:amount>250.50</c:amount><c:currency>EUR</c:currency></c:creditLimit>"
        "</c:customer>",
    )
    reply = read_customer(cil, cs_id)
    assert reply.text("c:customer/c:email") == "new@example.org"
    assert reply.text("c:customer/c:lastName") == "Müller"
    assert reply.text("c:customer/c:creditLimit/c:amount") == "250.50"


def test_customer_write_suspends_a_customer(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    cil.ok("CustomerWrite", f"<c:csId>{cs_id}</c:csId><c:customer><c:csStatus>s</c:csStatus>"
           "</c:customer>")  # fmt: skip
    assert read_customer(cil, cs_id).text("c:customer/c:csStatus") == "s"


def test_customers_search_matches_a_last_name_prefix_ignoring_case(cil: CilClient) -> None:
    first, _ = new_customer(cil, "Müller")
    second, _ = new_customer(cil, "MÜLLER-Lüdenscheid")
    new_customer(cil, "Mueller")
    reply = cil.ok("CustomersSearch", "<c:lastName>mÜl</c:lastName>")
    assert reply.texts("c:customers/c:customer/c:csId") == [str(first), str(second)]
    assert reply.texts("c:customers/c:customer/c:name") == ["Ana Müller", "Ana MÜLLER-Lüdenscheid"]
    assert reply.text("c:searchIsComplete") == "true"


def test_customers_search_finds_the_holder_of_an_msisdn(cil: CilClient) -> None:
    new_customer(cil, "Other")
    cs_id, _ = new_customer(cil)
    new_contract(cil, cs_id, "4917099990000")
    reply = cil.ok("CustomersSearch", "<c:dnNum>4917099990000</c:dnNum>")
    assert reply.texts("c:customers/c:customer/c:csId") == [str(cs_id)]


def test_customers_search_says_when_it_stopped_at_the_maximum(cil: CilClient) -> None:
    for _ in range(3):
        new_customer(cil, "Meier")
    reply = cil.ok(
        "CustomersSearch", "<c:lastName>Meier</c:lastName><c:searcherMaxResults>2"
        "</c:searcherMaxResults>"
    )  # fmt: skip
    assert len(reply.texts("c:customers/c:customer")) == 2
    assert reply.text("c:searchIsComplete") == "false"


def test_customer_hierarchy_write_moves_a_node_under_a_new_parent(cil: CilClient) -> None:
    top, _ = new_customer(cil, "Top")
    middle, _ = new_customer(cil, "Middle", parent=top)
    node, _ = new_customer(cil, "Node")
    cil.ok(
        "CustomerHierarchyWrite",
        f"<c:customer><c:csId>{node}</c:csId></c:customer>"
        f"<c:parent><c:csId>{middle}</c:csId></c:parent><c:paymentResp>false</c:paymentResp>",
    )
    reply = read_customer(cil, node)
    assert reply.text("c:parentCsId") == str(middle)
    assert reply.text("c:csLevel") == "3"
    assert reply.text("c:paymentResp") == "false"


def test_customer_hierarchy_write_without_parent_makes_a_top_node(cil: CilClient) -> None:
    top, _ = new_customer(cil, "Top")
    node, _ = new_customer(cil, "Node", parent=top)
    cil.ok(
        "CustomerHierarchyWrite",
        f"<c:customer><c:csId>{node}</c:csId></c:customer><c:paymentResp>true</c:paymentResp>",
    )
    reply = read_customer(cil, node)
    assert reply.text("c:parentCsId") is None
    assert reply.text("c:csLevel") == "1"


def test_address_write_adds_updates_and_deletes_addresses(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil, addresses=ADDRESS)
    ref = f"<c:customer><c:csId>{cs_id}</c:csId></c:customer>"
    added = cil.ok("AddressWrite", f"{ref}<c:action>a</c:action>{ADDRESS}")
    assert added.text("c:adrSeq") == "2"
    changed = ADDRESS.replace("<c:address>", "<c:address><c:adrSeq>1</c:adrSeq>").replace(
        "Berlin", "Hamburg"
    )
    assert cil.ok("AddressWrite", f"{ref}<c:action>u</c:action>{changed}").text("c:adrSeq") == "1"
    gone = ADDRESS.replace("<c:address>", "<c:address><c:adrSeq>2</c:adrSeq>")
    cil.ok("AddressWrite", f"{ref}<c:action>d</c:action>{gone}")
    reply = read_customer(cil, cs_id)
    assert reply.texts("c:addresses/c:address/c:adrSeq") == ["1"]
    assert reply.texts("c:addresses/c:address/c:adrCity") == ["Hamburg"]


def test_customer_info_write_sets_fields_and_removes_those_without_value(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    ref = f"<c:customer><c:csId>{cs_id}</c:csId></c:customer>"
    cil.ok(
        "CustomerInfoWrite",
        f"{ref}<c:infoFields><c:field><c:name>VIP</c:name><c:value>gold</c:value></c:field>"
        "<c:field><c:name>CHANNEL</c:name><c:value>shop</c:value></c:field></c:infoFields>",
    )
    cil.ok("CustomerInfoWrite", f"{ref}<c:infoFields><c:field><c:name>CHANNEL</c:name>"
           "</c:field></c:infoFields>")  # fmt: skip
    reply = read_customer(cil, cs_id)
    assert reply.texts("c:infoFields/c:field/c:name") == ["VIP"]
    assert reply.texts("c:infoFields/c:field/c:value") == ["gold"]


# ----------------------------------------------------------------------------- contracts


def test_contract_new_answers_ids_and_starts_on_hold(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, co_pub = new_contract(cil, cs_id)
    assert co_pub == f"CONTR{co_id:07d}"
    reply = read_contract(cil, co_id)
    assert reply.text("c:coStatus") == "o"
    assert reply.texts("c:statusHistory/c:entry/c:coStatus") == ["o"]


def test_contract_read_returns_owner_rate_plan_and_numbers(cil: CilClient) -> None:
    cs_id, cs_pub = new_customer(cil)
    co_id, co_pub = new_contract(cil, cs_id, "4917012345678", status="a")
    reply = cil.ok("ContractRead", f"<c:coIdPub>{co_pub}</c:coIdPub>")
    assert reply.text("c:coId") == str(co_id)
    assert reply.text("c:csId") == str(cs_id)
    assert reply.text("c:csIdPub") == cs_pub
    assert reply.text("c:rpCode") == "RP_M"
    assert reply.text("c:dnNum") == "4917012345678"
    assert reply.text("c:imsi") == "262011234500001"
    assert reply.text("c:coStatus") == "a"


def test_contract_write_changes_status_with_a_dated_reason(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    cil.ok("ContractWrite", f"<c:coId>{co_id}</c:coId><c:coStatus>a</c:coStatus>")
    cil.ok(
        "ContractWrite",
        f"<c:coId>{co_id}</c:coId><c:coStatus>s</c:coStatus><c:rsCode>DEBT</c:rsCode>"
        "<c:rpCode>RP_L</c:rpCode>",
    )
    reply = read_contract(cil, co_id)
    assert reply.text("c:coStatus") == "s"
    assert reply.text("c:rpCode") == "RP_L"
    assert reply.texts("c:statusHistory/c:entry/c:coStatus") == ["o", "a", "s"]
    assert reply.texts("c:statusHistory/c:entry/c:rsCode") == ["DEBT"]
    assert all(v.endswith("Z") for v in reply.texts("c:statusHistory/c:entry/c:validFrom"))


SERVICES = (
    "<c:services><c:service><c:snCodePub>DATA</c:snCodePub><c:parameters><c:parameter>"
    "<c:prmCode>APN</c:prmCode><c:value>internet</c:value></c:parameter></c:parameters>"
    "<c:limits><c:limit><c:name>DATA_CAP</c:name><c:value>20</c:value><c:unit>GB</c:unit>"
    "</c:limit></c:limits></c:service><c:service><c:snCode>101</c:snCode></c:service>"
    "</c:services>"
)


def test_contract_services_add_answers_both_codes_of_each_service(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    reply = cil.ok(
        "ContractServicesAdd", f"<c:contract><c:coId>{co_id}</c:coId></c:contract>{SERVICES}"
    )
    assert reply.texts("c:services/c:service/c:snCode") == ["101", "104"]
    assert reply.texts("c:services/c:service/c:snCodePub") == ["VOICE", "DATA"]
    assert reply.texts("c:services/c:service/c:status") == ["A", "A"]


def test_contract_services_read_returns_parameters_and_limits(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    ref = f"<c:contract><c:coId>{co_id}</c:coId></c:contract>"
    cil.ok("ContractServicesAdd", ref + SERVICES)
    reply = cil.ok("ContractServicesRead", f"<c:coId>{co_id}</c:coId>")
    data = "c:services/c:service[c:snCodePub='DATA']"
    assert reply.text(f"{data}/c:parameters/c:parameter/c:prmCode") == "APN"
    assert reply.text(f"{data}/c:parameters/c:parameter/c:value") == "internet"
    assert reply.text(f"{data}/c:limits/c:limit/c:value") == "20"
    assert reply.text(f"{data}/c:limits/c:limit/c:unit") == "GB"


def test_contract_services_write_changes_status_and_replaces_the_lists(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    ref = f"<c:contract><c:coId>{co_id}</c:coId></c:contract>"
    cil.ok("ContractServicesAdd", ref + SERVICES)
    cil.ok(
        "ContractServicesWrite",
        f"{ref}<c:service><c:snCodePub>DATA</c:snCodePub><c:status>S</c:status><c:parameters>"
        "<c:parameter><c:prmCode>APN</c:prmCode><c:value>iot</c:value></c:parameter>"
        "</c:parameters><c:limits/></c:service>",
    )
    reply = cil.ok("ContractServicesRead", f"<c:coId>{co_id}</c:coId>")
    data = "c:services/c:service[c:snCodePub='DATA']"
    assert reply.text(f"{data}/c:status") == "S"
    assert reply.texts(f"{data}/c:parameters/c:parameter/c:value") == ["iot"]
    assert reply.texts(f"{data}/c:limits/c:limit") == []


# ------------------------------------------------------------------------------- billing


def test_discount_assign_answers_an_assignment_id(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    reply = cil.ok(
        "DiscountAssign",
        f"<c:customer><c:csId>{cs_id}</c:csId></c:customer><c:kind>D</c:kind>"
        "<c:pdCode>LOYAL10</c:pdCode><c:value>10</c:value><c:valueType>P</c:valueType>"
        "<c:inherited>true</c:inherited><c:validFrom>2024-01-01</c:validFrom>",
    )
    assert int(reply.text("c:assignId") or 0) > 0


def test_discount_remove_ends_an_assignment(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    assigned = cil.ok(
        "DiscountAssign",
        f"<c:contract><c:coId>{co_id}</c:coId></c:contract><c:kind>P</c:kind>"
        "<c:pdCode>WELCOME_DATA</c:pdCode><c:value>5</c:value><c:valueType>A</c:valueType>"
        "<c:currency>EUR</c:currency>",
    )
    assign_id = assigned.text("c:assignId")
    reply = cil.call("DiscountRemove", f"<c:assignId>{assign_id}</c:assignId>")
    assert reply.status == 200
    assert reply.payload is not None
    assert reply.payload.tag == "{urn:bscs:cil:v7}discountRemoveResponse"


def test_balances_read_sums_the_balances_of_the_customers_contracts(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    new_contract(cil, cs_id, "4917012340001")
    new_contract(cil, cs_id, "4917012340002")
    reply = cil.ok("BalancesRead", f"<c:csId>{cs_id}</c:csId>")
    assert len(reply.texts("c:balances/c:balance")) == 1
    current = Decimal(reply.text("c:balances/c:balance/c:current/c:amount") or "")
    unbilled = Decimal(reply.text("c:balances/c:balance/c:unbilled/c:amount") or "")
    outstanding = Decimal(reply.text("c:balances/c:balance/c:outstanding/c:amount") or "")
    assert reply.text("c:balances/c:balance/c:current/c:currency") == "EUR"
    assert current > unbilled + outstanding  # plus the monthly fees of both contracts


def test_balances_read_of_a_customer_without_contracts_is_empty(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    assert cil.ok("BalancesRead", f"<c:csId>{cs_id}</c:csId>").texts("c:balances/*") == []


def test_contract_free_units_read_returns_the_packs_of_the_month(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    reply = cil.ok("ContractFreeUnitsRead", f"<c:coId>{co_id}</c:coId>")
    packs = reply.texts("c:freeUnits/c:freeUnit/c:fuPackId")
    assert packs == ["DATA_MONTH", "SMS_MONTH", "VOICE_MONTH"]
    for pack in packs:
        unit = f"c:freeUnits/c:freeUnit[c:fuPackId='{pack}']"
        granted, used, left = (
            Decimal(reply.text(f"{unit}/c:{name}") or "")
            for name in ("granted", "used", "remaining")
        )
        assert used + left == granted
        assert (reply.text(f"{unit}/c:periodStart") or "").endswith("-01")


def test_usage_data_records_read_pages_oldest_first(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    window = (
        f"<c:contract><c:coId>{co_id}</c:coId></c:contract>"
        "<c:from>2000-01-01T00:00:00Z</c:from><c:to>2100-01-01T00:00:00Z</c:to>"
    )
    reply = cil.ok("UsageDataRecordsRead", window + "<c:maxRecords>5</c:maxRecords>")
    starts = reply.texts("c:records/c:udr/c:startTime")
    assert len(starts) == 5
    assert starts == sorted(starts)
    assert reply.text("c:moreRecords") == "true"
    assert set(reply.texts("c:records/c:udr/c:charge/c:currency")) == {"EUR"}
    everything = cil.ok("UsageDataRecordsRead", window + "<c:maxRecords>1000</c:maxRecords>")
    assert len(everything.texts("c:records/c:udr")) == 24
    assert everything.text("c:moreRecords") == "false"


def test_usage_data_records_read_keeps_to_the_time_window(cil: CilClient) -> None:
    cs_id, _ = new_customer(cil)
    co_id, _ = new_contract(cil, cs_id)
    reply = cil.ok(
        "UsageDataRecordsRead",
        f"<c:contract><c:coId>{co_id}</c:coId></c:contract>"
        "<c:from>2000-01-01T00:00:00Z</c:from><c:to>2000-02-01T00:00:00Z</c:to>",
    )
    assert reply.texts("c:records/c:udr") == []
    assert reply.text("c:moreRecords") == "false"


def test_the_simulator_accepts_the_adapters_default_credentials(tmp_path: Path) -> None:
    """Started from the settings with no options, the simulator lets the adapter's own
    defaults in, so that the product works out of the box."""
    from adapter.settings import Settings

    settings = Settings(data_dir=tmp_path)
    with (
        run_in_thread(SimConfig.from_settings(settings)) as running,
        CilClient(
            running.soap_url,
            settings.billing_user,
            settings.billing_password.get_secret_value(),
            settings.billing_business_unit,
        ) as client,
    ):
        reply = client.call("CustomerRead", "<c:csId>1</c:csId>")
    assert reply.fault is not None
    assert reply.fault.code == "CMS.RC6701"  # past security and session: a business answer
