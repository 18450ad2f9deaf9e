"""The zeep gateway against the billing simulator over real HTTP: every CIL operation, and each
injected fault classified (business or transient) and retried or not as documented."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pybreaker
import pytest

from adapter.legacy import BusinessFault, CircuitOpen, Gateway, TransientFailure
from adapter.settings import Settings
from adapter.testing.billing_sim import RunningSimulator
from tests.integration.conftest import SIM_PASSWORD, SIM_USER

USER, PASSWORD = SIM_USER, SIM_PASSWORD


def settings(sim: RunningSimulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "billing_url": sim.soap_url,
        "billing_user": USER,
        "billing_password": PASSWORD,
        "billing_timeout": 2.0,
        "billing_retries": 2,
        "billing_backoff": 0.01,
    }
    values.update(overrides)
    return Settings(**values)


def memory_breaker() -> Any:
    return pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)


@pytest.fixture
def gateway(sim: RunningSimulator, admin: httpx.Client) -> Gateway:
    return Gateway(settings(sim), breaker_storage=memory_breaker())


def person(last: str = "Nowak", pub: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        **({"csIdPub": pub} if pub else {}),
        "paymentResp": True,
        "customer": {"partyType": "I", "firstName": "Anna", "lastName": last, **extra},
        "addresses": {
            "address": [
                {
                    "adrRole": ["B", "R"],
                    "adrLine": ["ul. Długa 5"],
                    "adrZip": "00-238",
                    "adrCity": "Warszawa",
                    "adrCountry": "PL",
                }
            ]
        },
    }


def new_customer(gateway: Gateway, **kw: Any) -> dict[str, Any]:
    return gateway.call("CustomerNew", person(**kw))


def new_contract(gateway: Gateway, cs_id: int, dn: str = "48601234567") -> dict[str, Any]:
    return gateway.call(
        "ContractNew",
        {"customer": {"csId": cs_id}, "rpCode": "RP_M", "dnNum": dn, "imsi": "260011234567890"},
    )


def activate(gateway: Gateway, co_id: int) -> None:
    gateway.call("ContractWrite", {"coId": co_id, "coStatus": "a", "rsCode": "SALE"})


# ------------------------------------------------------------------------ every operation


def test_customer_new_returns_both_ids(gateway: Gateway) -> None:
    created = new_customer(gateway, pub="C-GW-1")
    assert isinstance(created["csId"], int) and created["csIdPub"] == "C-GW-1"


def test_customer_read_returns_what_was_created(gateway: Gateway) -> None:
    cs_id = new_customer(gateway, last="Kowalska")["csId"]
    read = gateway.call("CustomerRead", {"csId": cs_id})
    assert read["customer"]["lastName"] == "Kowalska"
    assert read["addresses"]["address"][0]["adrCity"] == "Warszawa"
    assert read["paymentResp"] is True and read["csLevel"] == 1


def test_customer_write_changes_the_given_fields(gateway: Gateway) -> None:
    cs_id = new_customer(gateway)["csId"]
    assert gateway.call("CustomerWrite", {"csId": cs_id, "customer": {"email": "a@b.pl"}}) == {}
    assert gateway.call("CustomerRead", {"csId": cs_id})["customer"]["email"] == "a@b.pl"


def test_customers_search_finds_by_last_name(gateway: Gateway) -> None:
    new_customer(gateway, last="Zielinska", pub="C-GW-S")
    found = gateway.call("CustomersSearch", {"lastName": "Zielinska"})
    assert [c["csIdPub"] for c in found["customers"]["customer"]] == ["C-GW-S"]


def test_customer_hierarchy_write_moves_a_node_under_a_parent(gateway: Gateway) -> None:
    parent = new_customer(gateway, last="Holding")["csId"]
    child = new_customer(gateway, last="Branch")["csId"]
    gateway.call(
        "CustomerHierarchyWrite",
        {"customer": {"csId": child}, "parent": {"csId": parent}, "paymentResp": False},
    )
    read = gateway.call("CustomerRead", {"csId": child})
    assert (read["parentCsId"], read["paymentResp"], read["csLevel"]) == (parent, False, 2)


def test_address_write_adds_an_address(gateway: Gateway) -> None:
    cs_id = new_customer(gateway)["csId"]
    written = gateway.call(
        "AddressWrite",
        {
            "customer": {"csId": cs_id},
            "action": "a",
            "address": {
                "adrRole": ["S"],
                "adrLine": ["Magazyn 3"],
                "adrZip": "30-001",
                "adrCity": "Kraków",
                "adrCountry": "PL",
            },
        },
    )
    cities = [
        a["adrCity"] for a in gateway.call("CustomerRead", {"csId": cs_id})["addresses"]["address"]
    ]
    assert isinstance(written["adrSeq"], int) and "Kraków" in cities


def test_customer_info_write_sets_custom_fields(gateway: Gateway) -> None:
    cs_id = new_customer(gateway)["csId"]
    gateway.call(
        "CustomerInfoWrite",
        {"customer": {"csId": cs_id}, "infoFields": {"field": [{"name": "TIER", "value": "GOLD"}]}},
    )
    fields = gateway.call("CustomerRead", {"csId": cs_id})["infoFields"]["field"]
    assert {"name": "TIER", "value": "GOLD"} in fields


def test_contract_new_returns_both_ids(gateway: Gateway) -> None:
    contract = new_contract(gateway, new_customer(gateway)["csId"])
    assert isinstance(contract["coId"], int) and contract["coIdPub"]


def test_contract_read_returns_status_and_number(gateway: Gateway) -> None:
    cs_id = new_customer(gateway)["csId"]
    co_id = new_contract(gateway, cs_id, dn="48601000001")["coId"]
    read = gateway.call("ContractRead", {"coId": co_id})
    assert (read["csId"], read["coStatus"], read["dnNum"]) == (cs_id, "o", "48601000001")


def test_contract_write_changes_status_with_history(gateway: Gateway) -> None:
    co_id = new_contract(gateway, new_customer(gateway)["csId"])["coId"]
    activate(gateway, co_id)
    read = gateway.call("ContractRead", {"coId": co_id})
    assert read["coStatus"] == "a"
    assert [e["coStatus"] for e in read["statusHistory"]["entry"]][-1] == "a"


def test_contract_services_add_returns_the_codes(gateway: Gateway) -> None:
    co_id = new_contract(gateway, new_customer(gateway)["csId"])["coId"]
    added = gateway.call(
        "ContractServicesAdd",
        {
            "contract": {"coId": co_id},
            "services": {
                "service": [
                    {"snCodePub": "VOICE"},
                    {
                        "snCodePub": "DATA",
                        "parameters": {"parameter": [{"prmCode": "APN", "value": "internet"}]},
                        "limits": {"limit": [{"name": "CAP", "value": Decimal(20), "unit": "GB"}]},
                    },
                ]
            },
        },
    )
    assert {(s["snCodePub"], s["snCode"]) for s in added["services"]["service"]} == {
        ("VOICE", 101),
        ("DATA", 104),
    }


def add_data(gateway: Gateway, co_id: int) -> None:
    gateway.call(
        "ContractServicesAdd",
        {"contract": {"coId": co_id}, "services": {"service": [{"snCodePub": "DATA"}]}},
    )


def test_contract_services_read_lists_parameters_and_limits(gateway: Gateway) -> None:
    co_id = new_contract(gateway, new_customer(gateway)["csId"])["coId"]
    gateway.call(
        "ContractServicesAdd",
        {
            "contract": {"coId": co_id},
            "services": {
                "service": [
                    {
                        "snCodePub": "DATA",
                        "limits": {"limit": [{"name": "CAP", "value": Decimal(5), "unit": "GB"}]},
                    }
                ]
            },
        },
    )
    (service,) = gateway.call("ContractServicesRead", {"coId": co_id})["services"]["service"]
    assert service["snCodePub"] == "DATA"
    assert service["limits"]["limit"][0]["value"] == Decimal(5)


def test_contract_services_write_replaces_limits(gateway: Gateway) -> None:
    co_id = new_contract(gateway, new_customer(gateway)["csId"])["coId"]
    add_data(gateway, co_id)
    gateway.call(
        "ContractServicesWrite",
        {
            "contract": {"coId": co_id},
            "service": {
                "snCodePub": "DATA",
                "limits": {"limit": [{"name": "CAP", "value": Decimal(50), "unit": "GB"}]},
            },
        },
    )
    (service,) = gateway.call("ContractServicesRead", {"coId": co_id})["services"]["service"]
    assert service["limits"]["limit"] == [{"name": "CAP", "value": Decimal(50), "unit": "GB"}]


def assign(gateway: Gateway, cs_id: int) -> int:
    assigned = gateway.call(
        "DiscountAssign",
        {
            "customer": {"csId": cs_id},
            "kind": "D",
            "pdCode": "LOYAL10",
            "value": Decimal(10),
            "valueType": "P",
            "inherited": True,
        },
    )
    return int(assigned["assignId"])


def test_discount_assign_returns_an_assignment_id(gateway: Gateway) -> None:
    assert assign(gateway, new_customer(gateway)["csId"]) > 0


def test_discount_remove_removes_it_once(gateway: Gateway) -> None:
    assign_id = assign(gateway, new_customer(gateway)["csId"])
    assert gateway.call("DiscountRemove", {"assignId": assign_id}) == {}
    with pytest.raises(BusinessFault) as again:
        gateway.call("DiscountRemove", {"assignId": assign_id})
    assert again.value.code == "CMS.RC6752"


def test_balances_read_gives_money_in_a_currency(gateway: Gateway) -> None:
    cs_id = new_customer(gateway)["csId"]
    new_contract(gateway, cs_id)
    (balance,) = gateway.call("BalancesRead", {"csId": cs_id})["balances"]["balance"]
    assert set(balance["current"]) == {"amount", "currency"}
    assert isinstance(balance["current"]["amount"], Decimal)


def test_contract_free_units_read_gives_granted_used_left(gateway: Gateway) -> None:
    co_id = new_contract(gateway, new_customer(gateway)["csId"])["coId"]
    units = gateway.call("ContractFreeUnitsRead", {"coId": co_id})["freeUnits"]["freeUnit"]
    assert units and all(u["remaining"] == u["granted"] - u["used"] for u in units)


def test_usage_data_records_read_gives_rated_records_in_the_period(gateway: Gateway) -> None:
    co_id = new_contract(gateway, new_customer(gateway)["csId"])["coId"]
    now = datetime.now(UTC)
    read = gateway.call(
        "UsageDataRecordsRead",
        {"contract": {"coId": co_id}, "from": now - timedelta(days=62), "to": now, "maxRecords": 5},
    )
    records = read["records"]["udr"]
    assert 0 < len(records) <= 5
    assert all(now - timedelta(days=62) <= r["startTime"] <= now for r in records)


def test_a_customer_with_a_contract_services_and_a_discount_is_created(
    gateway: Gateway,
) -> None:
    """The whole path a new customer takes, each step answered by billing."""
    cs_id = new_customer(gateway, pub=f"C-{uuid.uuid4().hex[:8]}")["csId"]
    co_id = new_contract(gateway, cs_id, dn="48609999999")["coId"]
    add_data(gateway, co_id)
    activate(gateway, co_id)
    assign(gateway, cs_id)
    contract = gateway.call("ContractRead", {"coId": co_id})
    services = gateway.call("ContractServicesRead", {"coId": co_id})["services"]["service"]
    assert (contract["csId"], contract["coStatus"]) == (cs_id, "a")
    assert [s["snCodePub"] for s in services] == ["DATA"]


# ------------------------------------------------------------------------ business faults


def test_an_unknown_customer_is_a_business_fault_not_retried(gateway: Gateway) -> None:
    with pytest.raises(BusinessFault) as raised:
        gateway.call("CustomerRead", {"csId": 999_999})
    assert (raised.value.code, raised.value.attempts) == ("CMS.RC6701", 1)


def test_an_invalid_status_transition_is_a_business_fault(gateway: Gateway) -> None:
    co_id = new_contract(gateway, new_customer(gateway)["csId"])["coId"]
    with pytest.raises(BusinessFault) as raised:
        gateway.call("ContractWrite", {"coId": co_id, "coStatus": "s"})
    assert raised.value.code == "CMS.RC6710"


def test_wrong_credentials_are_a_business_fault(sim: RunningSimulator, admin: httpx.Client) -> None:
    gateway = Gateway(settings(sim, billing_password="wrong"), breaker_storage=memory_breaker())
    with pytest.raises(BusinessFault) as raised:
        gateway.call("CustomerRead", {"csId": 1})
    assert raised.value.code.startswith("CMS.SEC")


def test_a_payload_zeep_cannot_send_is_refused_before_the_wire(gateway: Gateway) -> None:
    with pytest.raises(BusinessFault) as raised:
        gateway.call("ContractNew", {"customer": {"csId": 1}, "dnNum": "48601234567"})
    assert raised.value.code == "ADAPTER.INVALID_REQUEST" and raised.value.request_xml is None


def test_an_injected_cms_fault_reaches_the_caller_with_its_code(
    gateway: Gateway, admin: httpx.Client
) -> None:
    plan = {
        "rules": [
            {
                "kind": "cms_fault",
                "operation": "CustomerNew",
                "fault": {"code": "CMS.RC6799", "message": "billing run in progress"},
            }
        ]
    }
    admin.put("/faults", json=plan).raise_for_status()
    with pytest.raises(BusinessFault) as raised:
        new_customer(gateway)
    assert (raised.value.code, raised.value.attempts) == ("CMS.RC6799", 1)
    assert "billing run in progress" in raised.value.fault_message


# ------------------------------------------------------------------------ transient faults


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"kind": "http500"}, "server_fault"),
        ({"kind": "http503"}, "http_503"),
        ({"kind": "html404"}, "html_page"),
        ({"kind": "truncated"}, "malformed_response"),
        ({"kind": "hang", "seconds": 5}, "timeout"),
        ({"kind": "drop"}, "connection"),
    ],
)
def test_each_transient_fault_is_retried_then_raised_with_its_reason(
    sim: RunningSimulator, admin: httpx.Client, rule: dict[str, Any], reason: str
) -> None:
    gateway = Gateway(settings(sim, billing_timeout=0.5), breaker_storage=memory_breaker())
    admin.put("/faults", json={"rules": [{**rule, "operation": "BalancesRead"}]}).raise_for_status()
    with pytest.raises(TransientFailure) as raised:
        gateway.call("BalancesRead", {"csId": 1})
    assert (raised.value.reason, raised.value.attempts) == (reason, 3)


def test_a_refusing_backend_is_a_connection_failure(gateway: Gateway, admin: httpx.Client) -> None:
    admin.put("/faults", json={"rules": [{"kind": "refuse", "seconds": 1}]}).raise_for_status()
    try:
        with pytest.raises(TransientFailure) as raised:
            gateway.call("BalancesRead", {"csId": 1})
        assert raised.value.reason == "connection"
    finally:
        wait_until_listening(admin)


def wait_until_listening(admin: httpx.Client) -> None:
    """A refusing simulator listens again after its pause; later tests need it back."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:  # a new connection: the pooled one survives a closed listener
            httpx.get(f"{str(admin.base_url).rstrip('/')}/health", timeout=1).raise_for_status()
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the simulator did not listen again within 10 s")


def test_a_fault_that_passes_is_absorbed_by_the_retry(
    gateway: Gateway, admin: httpx.Client
) -> None:
    cs_id = new_customer(gateway)["csId"]
    plan = {"rules": [{"kind": "http503", "operation": "CustomerRead", "times": 1}]}
    admin.put("/faults", json=plan).raise_for_status()
    assert gateway.call("CustomerRead", {"csId": cs_id})["csId"] == cs_id


def test_latency_under_the_timeout_is_only_slower(gateway: Gateway, admin: httpx.Client) -> None:
    cs_id = new_customer(gateway)["csId"]
    admin.put("/faults", json={"latency_ms": 200}).raise_for_status()
    assert gateway.call("CustomerRead", {"csId": cs_id})["csId"] == cs_id


def test_a_failed_call_keeps_its_raw_messages(gateway: Gateway, admin: httpx.Client) -> None:
    admin.put("/faults", json={"rules": [{"kind": "html404"}]}).raise_for_status()
    with pytest.raises(TransientFailure) as raised:
        gateway.call("CustomerRead", {"csId": 1})
    assert b"customerReadRequest" in (raised.value.request_xml or b"")
    assert b"<html" in (raised.value.response_xml or b"").lower()
    assert raised.value.http_status == 404


# ------------------------------------------------------------------------ circuit breaker


def test_the_breaker_opens_on_a_failing_backend_and_closes_after_a_good_trial(
    sim: RunningSimulator, admin: httpx.Client
) -> None:
    gateway = Gateway(
        settings(sim, billing_retries=0, billing_breaker_failures=2, billing_breaker_reset=0.5),
        breaker_storage=memory_breaker(),
    )
    cs_id = new_customer(gateway)["csId"]
    admin.put("/faults", json={"rules": [{"kind": "http503"}]}).raise_for_status()
    for _ in range(2):
        with pytest.raises(TransientFailure):
            gateway.call("CustomerRead", {"csId": cs_id})
    with pytest.raises(CircuitOpen):
        gateway.call("CustomerRead", {"csId": cs_id})
    admin.delete("/faults").raise_for_status()
    import time

    time.sleep(0.6)
    assert gateway.call("CustomerRead", {"csId": cs_id})["csId"] == cs_id
    assert gateway.breaker.current_state == pybreaker.STATE_CLOSED


def test_the_breaker_state_is_shared_through_redis(
    sim: RunningSimulator, admin: httpx.Client, redis_url: str
) -> None:
    """Two gateways (two worker processes) on one Redis: when one opens the breaker, the
    other stops calling too."""
    import redis

    namespace = f"crm-adapter-test:{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)

    def shared() -> Any:
        return pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace=namespace)

    first = Gateway(
        settings(sim, billing_retries=0, billing_breaker_failures=2, redis_url=redis_url),
        breaker_storage=shared(),
    )
    second = Gateway(
        settings(sim, billing_retries=0, billing_breaker_failures=2, redis_url=redis_url),
        breaker_storage=shared(),
    )
    try:
        admin.put("/faults", json={"rules": [{"kind": "http503"}]}).raise_for_status()
        for _ in range(2):
            with pytest.raises(TransientFailure):
                first.call("BalancesRead", {"csId": 1})
        admin.delete("/faults").raise_for_status()
        with pytest.raises(CircuitOpen):
            second.call("BalancesRead", {"csId": 1})
    finally:
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
