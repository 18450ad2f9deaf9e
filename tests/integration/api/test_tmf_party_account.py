"""TMF629 customer, TMF632 individual/organization and TMF666 billingAccount, billFormat and
billingCycleSpecification against a real ``crm-adapter serve`` process (SQLite, and PostgreSQL
when configured): reads with projection, filters and paging headers; writes as audited
provisioning requests in the caller's name; PII masked for an agent; errors as TMF bodies;
a write that reaches the billing simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pybreaker
import pytest
from sqlalchemy import Engine, select

from adapter.legacy import Gateway
from adapter.mapping import load_mappings
from adapter.requests.apply import request_status
from adapter.settings import Settings
from adapter.store import tables as t
from adapter.sync import SyncPolicy, drain_customer
from adapter.testing.billing_sim import RunningSimulator
from tests.integration.conftest import SIM_PASSWORD, SIM_USER

from .conftest import PII, ApiCaller, create_customer, unique

CUSTOMER = "/tmf-api/customerManagement/v4/customer"
INDIVIDUAL = "/tmf-api/partyManagement/v4/individual"
ORGANIZATION = "/tmf-api/partyManagement/v4/organization"
ACCOUNT = "/tmf-api/accountManagement/v4/billingAccount"
CYCLE = "/tmf-api/accountManagement/v4/billingCycleSpecification"
FORMAT = "/tmf-api/accountManagement/v4/billFormat"
MERGE = {"Content-Type": "application/merge-patch+json"}

Caller = Callable[[str], ApiCaller]


def _char(document: dict[str, Any], name: str) -> Any:
    return next(c["value"] for c in document["characteristic"] if c["name"] == name)


def _change_of(engine: Engine, request_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(t.change).where(t.change.c.request_id == request_id)).one()


def _tmf_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["@type"] == "Error" and body["status"] == str(status)
    return body


def _organization_body(number: str, **extra: Any) -> dict[str, Any]:
    return {
        "@type": "Customer",
        "engagedParty": {
            "@referredType": "Organization",
            "name": f"Nordlicht {number} GmbH",
            "tradingName": f"Nordlicht {number}",
            "organizationType": "GmbH",
            "organizationIdentification": [
                {"identificationType": "company_registration", "identificationId": "HRB 12345"}
            ],
        },
        "characteristic": [
            {"name": "customerNumber", "value": number},
            {"name": "segment", "value": "corporate"},
        ],
        "contactMedium": [
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {"emailAddress": f"{number.lower()}@example.com"},
            },
            {
                "mediumType": "postalAddress",
                "characteristic": {
                    "contactType": "registration",
                    "street1": "Hafenstraße 1",
                    "street2": "Haus B",
                    "postCode": "20457",
                    "city": "Hamburg",
                    "country": "DE",
                },
            },
        ],
        **extra,
    }


def _new_account(customer_id: str, number: str, parent: str | None, **extra: Any) -> Any:
    body: dict[str, Any] = {
        "name": f"Account {number}",
        "characteristic": [
            {"name": "accountNumber", "value": number},
            {"name": "paymentResponsible", "value": False},
        ],
        "relatedParty": [{"id": customer_id, "role": "customer"}],
        **extra,
    }
    if parent is not None:
        body["accountRelationship"] = [{"relationshipType": "parent", "account": {"id": parent}}]
    return body


# -------------------------------------------------------------------------- TMF629


def test_a_customer_is_a_tmf629_customer_with_its_party_and_accounts(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("agent").client.get(f"{CUSTOMER}/{customer['id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@type"] == "Customer" and body["id"] == customer["id"]
    assert body["href"].endswith(f"{CUSTOMER}/{customer['id']}")
    assert body["href"].startswith("http://127.0.0.1:")
    assert body["engagedParty"]["@referredType"] == "Individual"
    assert body["engagedParty"]["href"].endswith(f"{INDIVIDUAL}/{customer['id']}")
    assert _char(body, "customerNumber") == customer["number"]
    assert [a["name"] for a in body["account"]] == ["Ilse Zweig"]
    assert body["account"][0]["@referredType"] == "BillingAccount"
    assert body["status"] == "active"
    assert response.headers["ETag"] == '"1"'


def test_a_customer_is_found_by_its_number_too(caller: Caller, api_engine: Engine) -> None:
    customer = create_customer(api_engine)
    response = caller("agent").client.get(f"{CUSTOMER}/{customer['number']}")
    assert response.status_code == 200
    assert response.json()["id"] == customer["id"]


def test_the_customer_list_filters_and_pages_with_count_headers(
    caller: Caller, api_engine: Engine
) -> None:
    ids = sorted(create_customer(api_engine)["id"] for _ in range(3))
    client = caller("agent").client
    response = client.get(CUSTOMER, params={"engagedParty.id": ",".join(ids), "limit": 2})
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Result-Count"] == "2"
    rest = client.get(CUSTOMER, params={"engagedParty.id": ",".join(ids), "offset": 2})
    assert rest.headers["X-Result-Count"] == "1"
    seen = {c["id"] for c in response.json()} | {c["id"] for c in rest.json()}
    assert seen == set(ids)


def test_the_customer_list_filters_by_name_and_status(caller: Caller, api_engine: Engine) -> None:
    customer = create_customer(api_engine)
    name = f"ilse zweig{customer['number'][-6:]}"  # compared case-insensitively
    client = caller("agent").client
    found = client.get(CUSTOMER, params={"name": name, "status": "active"})
    assert [c["id"] for c in found.json()] == [customer["id"]]
    none = client.get(CUSTOMER, params={"name": name, "status": "closed"})
    assert none.json() == [] and none.headers["X-Total-Count"] == "0"


def test_fields_keeps_the_named_attributes_and_id_href_type(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    body = caller("agent").client.get(f"{CUSTOMER}/{customer['id']}?fields=name,status").json()
    assert set(body) == {"id", "href", "@type", "name", "status"}


def test_an_unknown_filter_is_a_400_naming_it(caller: Caller) -> None:
    response = caller("agent").client.get(CUSTOMER, params={"colour": "blue"})
    assert "colour" in _tmf_error(response, 400)["message"]


def test_an_unknown_customer_is_a_404_error_body(caller: Caller) -> None:
    _tmf_error(caller("agent").client.get(f"{CUSTOMER}/{unique('nobody')}"), 404)


def test_post_creates_a_customer_201_with_location_and_body(
    caller: Caller, api_engine: Engine
) -> None:
    backoffice = caller("backoffice")
    number = unique("TMF")
    response = backoffice.client.post(CUSTOMER, json=_organization_body(number))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == body["href"]
    assert body["href"].endswith(f"{CUSTOMER}/{body['id']}")
    assert body["engagedParty"]["@referredType"] == "Organization"
    assert _char(body, "segment") == "corporate"
    address = next(m for m in body["contactMedium"] if m["mediumType"] == "postalAddress")
    assert address["characteristic"]["street2"] == "Haus B"
    assert backoffice.client.get(response.headers["Location"]).json()["id"] == body["id"]
    status = request_status(api_engine, response.headers["X-CRM-Request-Id"])
    assert status.operation == "customer.create"
    change = _change_of(api_engine, status.request_id)
    assert (change.originating_user, change.channel) == (backoffice.name, "api")


def test_post_without_a_customer_number_is_422_naming_it(caller: Caller) -> None:
    body = _organization_body(unique("TMF"))
    body["characteristic"] = []
    error = _tmf_error(caller("backoffice").client.post(CUSTOMER, json=body), 422)
    assert [d["field"] for d in error["details"]] == ["characteristic.customerNumber"]


def test_a_field_the_request_refuses_is_named_as_the_tmf_attribute(caller: Caller) -> None:
    """The handler refuses ``party.birth_date``; the client sees ``engagedParty.birthDate``."""
    body = {
        "engagedParty": {
            "@referredType": "Individual",
            "givenName": "Ada",
            "familyName": "Lind",
            "birthDate": "not a date",
        },
        "characteristic": [{"name": "customerNumber", "value": unique("TMF")}],
    }
    error = _tmf_error(caller("backoffice").client.post(CUSTOMER, json=body), 422)
    assert "engagedParty.birthDate" in [d["field"] for d in error["details"]]


def test_an_agent_may_not_create_a_customer(caller: Caller) -> None:
    response = caller("agent").client.post(CUSTOMER, json=_organization_body(unique("TMF")))
    assert "customers.write" in _tmf_error(response, 403)["message"]


def test_patch_is_an_audited_customer_update_in_the_callers_name(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    backoffice = caller("backoffice")
    response = backoffice.client.patch(
        f"{CUSTOMER}/{customer['id']}",
        json={"status": "suspended", "characteristic": [{"name": "segment", "value": "vip"}]},
        headers={**MERGE, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "suspended"
    assert _char(response.json(), "segment") == "vip"
    assert response.headers["ETag"] == '"2"'
    request_id = response.headers["X-CRM-Request-Id"]
    assert request_status(api_engine, request_id).operation == "customer.update"
    assert _change_of(api_engine, request_id).originating_user == backoffice.name


def test_patch_with_a_stale_if_match_is_409_and_writes_nothing(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    response = client.patch(
        f"{CUSTOMER}/{customer['id']}",
        json={"status": "suspended"},
        headers={**MERGE, "If-Match": '"7"'},
    )
    _tmf_error(response, 409)
    assert client.get(f"{CUSTOMER}/{customer['id']}").json()["status"] == "active"


def test_patching_a_derived_attribute_is_422_naming_it(caller: Caller, api_engine: Engine) -> None:
    customer = create_customer(api_engine)
    response = caller("backoffice").client.patch(
        f"{CUSTOMER}/{customer['id']}", json={"name": "Someone Else"}, headers=MERGE
    )
    assert [d["field"] for d in _tmf_error(response, 422)["details"]] == ["name"]


def test_delete_closes_the_customer_with_204(caller: Caller, api_engine: Engine) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    response = client.delete(f"{CUSTOMER}/{customer['id']}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert client.get(f"{CUSTOMER}/{customer['id']}").json()["status"] == "closed"
    status = request_status(api_engine, response.headers["X-CRM-Request-Id"])
    assert status.operation == "customer.update" and status.status == "applied"


# -------------------------------------------------------------------------- TMF632


def test_an_agent_sees_birth_date_and_identifications_masked(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    body = caller("agent").client.get(f"{INDIVIDUAL}/{customer['id']}").json()
    assert body["@type"] == "Individual" and body["givenName"] == "Ilse"
    assert body["birthDate"] != PII["birth_date"] and body["birthDate"].endswith("14")
    ids = {i["identificationType"]: i["identificationId"] for i in body["individualIdentification"]}
    assert ids["tin"] == "*********21"
    assert PII["passport"] not in str(body) and PII["personal_id"] not in str(body)


def test_an_admin_sees_birth_date_and_identifications(caller: Caller, api_engine: Engine) -> None:
    customer = create_customer(api_engine)
    body = caller("admin").client.get(f"{INDIVIDUAL}/{customer['id']}").json()
    assert body["birthDate"] == PII["birth_date"]
    ids = {i["identificationType"]: i["identificationId"] for i in body["individualIdentification"]}
    assert ids == {k: PII[k] for k in ("tin", "personal_id", "passport")}


def test_the_customer_document_masks_nothing_an_individual_would_not(
    caller: Caller, api_engine: Engine
) -> None:
    """The customer carries no identification or birth date: its party is a reference."""
    customer = create_customer(api_engine)
    body = caller("admin").client.get(f"{CUSTOMER}/{customer['id']}").json()
    assert PII["tin"] not in str(body) and "birthDate" not in str(body)


def test_organizations_are_listed_and_filtered_by_name(caller: Caller) -> None:
    client = caller("backoffice").client
    number = unique("ORG")
    created = client.post(CUSTOMER, json=_organization_body(number)).json()
    response = client.get(ORGANIZATION, params={"name": f"nordlicht {number} gmbh"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == "1"
    [organization] = response.json()
    assert organization["id"] == created["id"]
    assert organization["tradingName"] == f"Nordlicht {number}"
    assert organization["organizationType"] == "GmbH"
    assert organization["organizationIdentification"][0]["identificationId"] == "HRB 12345"


def test_an_organization_is_not_an_individual(caller: Caller) -> None:
    client = caller("backoffice").client
    created = client.post(CUSTOMER, json=_organization_body(unique("ORG"))).json()
    _tmf_error(client.get(f"{INDIVIDUAL}/{created['id']}"), 404)
    assert client.get(f"{ORGANIZATION}/{created['id']}").status_code == 200


def test_the_individual_list_filters_by_family_name_with_projection(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    family = f"Zweig{customer['number'][-6:]}"
    response = caller("agent").client.get(
        INDIVIDUAL, params={"familyName": family, "fields": "familyName"}
    )
    assert response.headers["X-Total-Count"] == "1"
    assert response.json() == [
        {
            "@type": "Individual",
            "id": customer["id"],
            "href": response.json()[0]["href"],
            "familyName": family,
        }
    ]


def test_patching_an_individual_updates_its_customer_in_the_callers_name(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    backoffice = caller("backoffice")
    response = backoffice.client.patch(
        f"{INDIVIDUAL}/{customer['id']}",
        json={"familyName": "Adler", "gender": "female"},
        headers=MERGE,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["familyName"], response.json()["gender"]) == ("Adler", "female")
    request_id = response.headers["X-CRM-Request-Id"]
    assert request_status(api_engine, request_id).operation == "customer.update"
    assert _change_of(api_engine, request_id).originating_user == backoffice.name
    name = backoffice.client.get(f"{CUSTOMER}/{customer['id']}").json()["name"]
    assert name == "Ilse Adler"


def test_posting_an_individual_is_405_pointing_at_customer(caller: Caller) -> None:
    response = caller("backoffice").client.post(INDIVIDUAL, json={"givenName": "A"})
    assert CUSTOMER in _tmf_error(response, 405)["message"]


# -------------------------------------------------------------------------- TMF666


def test_a_billing_account_shows_its_hierarchy_and_payer(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    root = client.get(f"{ACCOUNT}/{customer['number']}.1").json()
    child = client.post(ACCOUNT, json=_new_account(customer["id"], unique("A"), root["id"]))
    assert child.status_code == 201, child.text
    body = client.get(child.headers["Location"]).json()
    assert body["@type"] == "BillingAccount"
    assert body["accountRelationship"] == [
        {
            "relationshipType": "parent",
            "account": {
                "id": root["id"],
                "href": root["href"],
                "name": root["name"],
                "@referredType": "BillingAccount",
            },
        }
    ]
    assert _char(body, "paymentResponsible") is False
    roles = {p["role"]: p["id"] for p in body["relatedParty"]}
    assert roles == {"customer": customer["id"], "payer": root["id"]}
    parent = client.get(f"{ACCOUNT}/{root['id']}").json()
    children = [
        r["account"]["id"]
        for r in parent["accountRelationship"]
        if r["relationshipType"] == "child"
    ]
    assert children == [body["id"]]
    assert _char(parent, "childCount") == 1


def test_post_billing_account_answers_201_location_and_is_an_account_create(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    backoffice = caller("backoffice")
    number = unique("A")
    response = backoffice.client.post(
        ACCOUNT,
        json=_new_account(
            customer["id"],
            number,
            None,
            billStructure={"cycleSpecification": {"id": "15"}},
            defaultPaymentMethod={"id": "direct_debit"},
            creditLimit={"unit": "EUR", "value": 250.5},
        ),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == body["href"]
    assert _char(body, "accountNumber") == number
    assert body["billStructure"]["cycleSpecification"]["id"] == "15"
    assert body["defaultPaymentMethod"]["id"] == "direct_debit"
    assert body["creditLimit"] == {"unit": "EUR", "value": 250.5}
    assert body["accountRelationship"] == []
    request_id = response.headers["X-CRM-Request-Id"]
    assert request_status(api_engine, request_id).operation == "account.create"
    assert _change_of(api_engine, request_id).originating_user == backoffice.name


def test_post_billing_account_without_its_customer_is_422(caller: Caller) -> None:
    body = _new_account("x", unique("A"), None)
    body["relatedParty"] = []
    error = _tmf_error(caller("backoffice").client.post(ACCOUNT, json=body), 422)
    assert [d["field"] for d in error["details"]] == ["relatedParty"]


def test_patch_payment_responsibility_is_a_set_payment_responsibility(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    backoffice = caller("backoffice")
    client = backoffice.client
    root = client.get(f"{ACCOUNT}/{customer['number']}.1").json()
    child = client.post(ACCOUNT, json=_new_account(customer["id"], unique("A"), root["id"])).json()
    response = client.patch(
        f"{ACCOUNT}/{child['id']}",
        json={"characteristic": [{"name": "paymentResponsible", "value": True}]},
        headers={**MERGE, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    payer = next(p for p in response.json()["relatedParty"] if p["role"] == "payer")
    assert payer["id"] == child["id"]
    request_id = response.headers["X-CRM-Request-Id"]
    assert request_status(api_engine, request_id).operation == "account.set_payment_responsibility"
    assert _change_of(api_engine, request_id).originating_user == backoffice.name


def test_patch_without_a_parent_relationship_moves_the_account_to_the_root(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    root = client.get(f"{ACCOUNT}/{customer['number']}.1").json()
    child = client.post(ACCOUNT, json=_new_account(customer["id"], unique("A"), root["id"])).json()
    response = client.patch(
        f"{ACCOUNT}/{child['id']}", json={"accountRelationship": []}, headers=MERGE
    )
    assert response.status_code == 200, response.text
    assert response.json()["accountRelationship"] == []
    status = request_status(api_engine, response.headers["X-CRM-Request-Id"])
    assert status.operation == "account.move"


def test_patch_with_a_stale_if_match_on_an_account_is_409(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("backoffice").client.patch(
        f"{ACCOUNT}/{customer['number']}.1",
        json={"characteristic": [{"name": "paymentResponsible", "value": False}]},
        headers={**MERGE, "If-Match": '"9"'},
    )
    _tmf_error(response, 409)


def test_patching_what_no_request_changes_is_422_naming_it(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    response = caller("backoffice").client.patch(
        f"{ACCOUNT}/{customer['number']}.1", json={"name": "Renamed"}, headers=MERGE
    )
    assert [d["field"] for d in _tmf_error(response, 422)["details"]] == ["name"]


def test_deleting_a_billing_account_is_405(caller: Caller, api_engine: Engine) -> None:
    customer = create_customer(api_engine)
    response = caller("backoffice").client.delete(f"{ACCOUNT}/{customer['number']}.1")
    _tmf_error(response, 405)
    assert response.headers["Allow"] == "GET, PATCH"


def test_billing_accounts_filter_by_customer_with_paging_headers(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    root = client.get(f"{ACCOUNT}/{customer['number']}.1").json()
    for _ in range(2):
        client.post(ACCOUNT, json=_new_account(customer["id"], unique("A"), root["id"]))
    response = client.get(ACCOUNT, params={"relatedParty.id": customer["id"], "limit": 2})
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Result-Count"] == "2"
    children = client.get(ACCOUNT, params={"accountRelationship.account.id": root["id"]})
    assert children.headers["X-Total-Count"] == "2"


def test_bill_cycles_in_use_are_billing_cycle_specifications(
    caller: Caller, api_engine: Engine
) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    client.post(
        ACCOUNT,
        json=_new_account(
            customer["id"], unique("A"), None, billStructure={"cycleSpecification": {"id": "22"}}
        ),
    )
    listed = client.get(CYCLE, params={"id": "22"})
    assert listed.headers["X-Total-Count"] == "1"
    cycle = client.get(f"{CYCLE}/22").json()
    assert cycle["@type"] == "BillingCycleSpecification"
    assert (cycle["frequency"], cycle["billingDateShift"]) == ("monthly", 21)
    _tmf_error(client.get(f"{CYCLE}/nope"), 404)


def test_the_bill_format_is_the_standard_one(caller: Caller, api_engine: Engine) -> None:
    client = caller("agent").client
    formats = client.get(FORMAT)
    assert formats.headers["X-Total-Count"] == "1"
    assert client.get(f"{FORMAT}/standard").json()["name"] == "Standard bill"
    customer = create_customer(api_engine)
    account = client.get(f"{ACCOUNT}/{customer['number']}.1").json()
    assert account["billStructure"]["format"]["id"] == "standard"


# -------------------------------------------------------------------------- billing


@pytest.fixture
def gateway(sim: RunningSimulator, admin: httpx.Client) -> Gateway:
    settings = Settings(
        billing_url=sim.soap_url,
        billing_user=SIM_USER,
        billing_password=SIM_PASSWORD,
        billing_timeout=5.0,
        billing_retries=0,
        billing_backoff=0.01,
        billing_breaker_failures=1000,
    )
    return Gateway(settings, breaker_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))


def test_tmf_writes_reach_the_billing_simulator(
    caller: Caller, api_engine: Engine, gateway: Gateway
) -> None:
    """A party patched and an account created through TMF are sent to billing by the sync
    (drained in the test: no worker runs), where they read back."""
    mappings = load_mappings()
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    patched = client.patch(f"{INDIVIDUAL}/{customer['id']}", json={"familyName": "Billing"})
    assert patched.status_code == 200, patched.text
    number = unique("B")
    created = client.post(
        ACCOUNT, json=_new_account(customer["id"], number, f"{customer['number']}.1")
    )
    assert created.status_code == 201, created.text
    policy = SyncPolicy(backoff=0.01, backoff_cap=0.05, lease=60)
    report = drain_customer(api_engine, gateway, mappings, customer["id"], policy=policy)
    assert report.stopped == "done", report.error

    def read(account_number: str) -> dict[str, Any]:
        answer = gateway.call(
            "CustomerRead",
            mappings.outbound("CustomerRead", {"account": {"number": account_number}}),
        )
        found: dict[str, Any] = mappings.inbound("CustomerRead", answer)
        return found

    assert read(f"{customer['number']}.1")["customer"]["party"]["family_name"] == "Billing"
    child = read(number)
    assert child["parent_account"]["number"] == f"{customer['number']}.1"
    assert child["account"]["payment_responsible"] is False
    assert request_status(api_engine, created.headers["X-CRM-Request-Id"]).status == "synced"


def test_an_unknown_billing_account_is_a_404_error_body(caller: Caller) -> None:
    _tmf_error(caller("agent").client.get(f"{ACCOUNT}/{unique('nothing')}"), 404)


def test_deleting_a_closed_customer_again_is_still_204(caller: Caller, api_engine: Engine) -> None:
    customer = create_customer(api_engine)
    client = caller("backoffice").client
    assert client.delete(f"{CUSTOMER}/{customer['id']}").status_code == 204
    again = client.delete(f"{CUSTOMER}/{customer['id']}")
    assert again.status_code == 204, again.text


def test_a_tmf_customer_reaches_billing_with_its_first_billing_account(
    caller: Caller, api_engine: Engine, gateway: Gateway
) -> None:
    """Billing keeps customers as account nodes: a customer POSTed without an account is sent
    when its first billingAccount is created."""
    mappings = load_mappings()
    client = caller("backoffice").client
    number = unique("ORG")
    customer = client.post(CUSTOMER, json=_organization_body(number)).json()
    account_number = unique("N")
    body = _new_account(customer["id"], account_number, None)
    body["characteristic"][1]["value"] = True
    created = client.post(ACCOUNT, json=body)
    assert created.status_code == 201, created.text
    policy = SyncPolicy(backoff=0.01, backoff_cap=0.05, lease=60)
    report = drain_customer(api_engine, gateway, mappings, customer["id"], policy=policy)
    assert report.stopped == "done", report.error
    answer = gateway.call(
        "CustomerRead", mappings.outbound("CustomerRead", {"account": {"number": account_number}})
    )
    read = mappings.inbound("CustomerRead", answer)
    assert read["customer"]["party"]["name"] == f"Nordlicht {number} GmbH"
    assert read["account"]["payment_responsible"] is True
