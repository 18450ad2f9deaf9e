"""The canonical ⇄ TMF629/632/666 mapping (``adapter.api.tmf_models.party_account``): every
attribute of every resource, and the TMF bodies turned into request payloads, with refusals
naming the TMF attribute."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.api.tmf_models import party_account as m
from adapter.domain.errors import ValidationFailed

BASE = "http://crm.example:8080"


def individual_customer() -> dict[str, Any]:
    return {
        "id": "c-1",
        "customer_number": "C-1001",
        "status": "active",
        "segment": "premium",
        "party": {
            "kind": "individual",
            "given_name": "Ana",
            "middle_name": "Lena",
            "family_name": "Müller",
            "title": "Dr.",
            "birth_date": "1984-05-17",
            "gender": "female",
            "nationality": "DE",
        },
        "identifications": [
            {
                "type": "tin",
                "value": "DE123456789",
                "issuing_country": "DE",
                "valid_from": "2020-01-01",
                "valid_to": None,
            }
        ],
        "contact_media": [
            {"type": "email", "value": "ana@example.com", "preferred": True},
            {"type": "mobile", "value": "+491701234567", "preferred": False},
            {"type": "fax", "value": "+49301234567", "preferred": False},
        ],
        "addresses": [
            {
                "role": "billing",
                "lines": ["Hauptstraße 1", "Hinterhaus", "3. OG"],
                "postcode": "10115",
                "city": "Berlin",
                "region": "BE",
                "country": "DE",
                "valid_from": None,
                "valid_to": "2030-12-31",
            }
        ],
        "contact_persons": [
            {
                "id": "cp-1",
                "role": "billing_contact",
                "given_name": "Jan",
                "family_name": "Müller",
                "contact_media": [{"type": "phone", "value": "+49301111111", "preferred": False}],
                "valid_from": "2024-02-01",
                "valid_to": None,
            }
        ],
    }


def organization_customer() -> dict[str, Any]:
    return {
        "id": "c-2",
        "customer_number": "C-2002",
        "status": "prospect",
        "segment": "corporate",
        "party": {
            "kind": "organization",
            "name": "Nordwind AG",
            "trading_name": "Nordwind",
            "legal_form": "AG",
        },
        "identifications": [{"type": "company_registration", "value": "HRB 1"}],
        "contact_media": [],
        "addresses": [],
        "contact_persons": [],
    }


def account(**extra: Any) -> dict[str, Any]:
    return {
        "id": "a-1",
        "customer_id": "c-1",
        "number": "A-1001",
        "name": "Ana Müller",
        "parent_id": None,
        "payment_responsible": True,
        "bill_cycle": "15",
        "payment_method": "direct_debit",
        "credit_limit": {"amount": "250.500000", "currency": "EUR"},
        "status": "active",
        **extra,
    }


# ---------------------------------------------------------------------------- reading


def test_a_customer_maps_every_attribute() -> None:
    document = m.customer_document(individual_customer(), [account()], BASE)
    assert document == {
        "@type": "Customer",
        "@baseType": "PartyRole",
        "id": "c-1",
        "href": f"{BASE}/tmf-api/customerManagement/v4/customer/c-1",
        "name": "Ana Lena Müller",
        "status": "active",
        "engagedParty": {
            "id": "c-1",
            "href": f"{BASE}/tmf-api/partyManagement/v4/individual/c-1",
            "name": "Ana Lena Müller",
            "@referredType": "Individual",
        },
        "contactMedium": document["contactMedium"],  # checked below
        "characteristic": [
            {"name": "customerNumber", "value": "C-1001", "valueType": "string"},
            {"name": "segment", "value": "premium", "valueType": "string"},
        ],
        "account": [
            {
                "id": "a-1",
                "href": f"{BASE}/tmf-api/accountManagement/v4/billingAccount/a-1",
                "name": "Ana Müller",
                "@referredType": "BillingAccount",
            }
        ],
        "paymentMethod": [
            {"id": "direct_debit", "name": "direct_debit", "@referredType": "PaymentMethod"}
        ],
        "relatedParty": [
            {
                "id": "cp-1",
                "name": "Jan Müller",
                "role": "billing_contact",
                "@referredType": "Individual",
                "contactMedium": [
                    {
                        "mediumType": "telephone",
                        "preferred": False,
                        "characteristic": {"contactType": "phone", "phoneNumber": "+49301111111"},
                    }
                ],
                "validFor": {"startDateTime": "2024-02-01T00:00:00Z"},
            }
        ],
        "agreement": [],
        "creditProfile": [],
    }


def test_contact_media_and_addresses_are_contact_medium_items() -> None:
    assert m.contact_media(individual_customer()) == [
        {
            "mediumType": "email",
            "preferred": True,
            "characteristic": {"contactType": "email", "emailAddress": "ana@example.com"},
        },
        {
            "mediumType": "telephone",
            "preferred": False,
            "characteristic": {"contactType": "mobile", "phoneNumber": "+491701234567"},
        },
        {
            "mediumType": "fax",
            "preferred": False,
            "characteristic": {"contactType": "fax", "faxNumber": "+49301234567"},
        },
        {
            "mediumType": "postalAddress",
            "preferred": False,
            "characteristic": {
                "contactType": "billing",
                "street1": "Hauptstraße 1",
                "street2": "Hinterhaus\n3. OG",
                "postCode": "10115",
                "city": "Berlin",
                "stateOrProvince": "BE",
                "country": "DE",
            },
            "validFor": {"endDateTime": "2030-12-31T00:00:00Z"},
        },
    ]


def test_an_individual_maps_every_attribute() -> None:
    document = m.party_document(individual_customer(), BASE)
    assert document == {
        "@type": "Individual",
        "@baseType": "Party",
        "id": "c-1",
        "href": f"{BASE}/tmf-api/partyManagement/v4/individual/c-1",
        "givenName": "Ana",
        "familyName": "Müller",
        "middleName": "Lena",
        "title": "Dr.",
        "fullName": "Ana Lena Müller",
        "birthDate": "1984-05-17",
        "gender": "female",
        "nationality": "DE",
        "individualIdentification": [
            {
                "identificationType": "tin",
                "identificationId": "DE123456789",
                "issuingAuthority": "DE",
                "@type": "IndividualIdentification",
                "validFor": {"startDateTime": "2020-01-01T00:00:00Z"},
            }
        ],
        "contactMedium": m.contact_media(individual_customer()),
        "partyCharacteristic": [],
        "relatedParty": [
            {
                "id": "c-1",
                "href": f"{BASE}/tmf-api/customerManagement/v4/customer/c-1",
                "name": "Ana Lena Müller",
                "role": "customer",
                "@referredType": "Customer",
            }
        ],
    }


def test_an_organization_maps_every_attribute() -> None:
    document = m.party_document(organization_customer(), BASE)
    assert document == {
        "@type": "Organization",
        "@baseType": "Party",
        "id": "c-2",
        "href": f"{BASE}/tmf-api/partyManagement/v4/organization/c-2",
        "name": "Nordwind AG",
        "tradingName": "Nordwind",
        "organizationType": "AG",
        "isLegalEntity": True,
        "organizationIdentification": [
            {
                "identificationType": "company_registration",
                "identificationId": "HRB 1",
                "@type": "OrganizationIdentification",
            }
        ],
        "contactMedium": [],
        "partyCharacteristic": [],
        "relatedParty": [
            {
                "id": "c-2",
                "href": f"{BASE}/tmf-api/customerManagement/v4/customer/c-2",
                "name": "Nordwind AG",
                "role": "customer",
                "@referredType": "Customer",
            }
        ],
    }


def test_an_organization_customer_refers_to_an_organization() -> None:
    ref = m.customer_document(organization_customer(), [], BASE)["engagedParty"]
    assert ref["@referredType"] == "Organization"
    assert ref["href"] == f"{BASE}/tmf-api/partyManagement/v4/organization/c-2"


def test_a_billing_account_maps_every_attribute() -> None:
    child = account(id="a-2", number="A-1002", name="Family", parent_id="a-1")
    document = m.billing_account_document(
        account(parent_id="a-0"),
        BASE,
        customer=individual_customer(),
        parent={"id": "a-0", "name": "Group"},
        children=[child],
        child_count=1,
        payer={"id": "a-1", "name": "Ana Müller"},
    )
    href = f"{BASE}/tmf-api/accountManagement/v4/billingAccount"
    assert document == {
        "@type": "BillingAccount",
        "@baseType": "Account",
        "id": "a-1",
        "href": f"{href}/a-1",
        "name": "Ana Müller",
        "accountType": "billing",
        "state": "active",
        "billStructure": {
            "format": {
                "id": "standard",
                "href": f"{BASE}/tmf-api/accountManagement/v4/billFormat/standard",
                "name": "Standard bill",
                "@referredType": "BillFormat",
            },
            "presentationMedia": [],
            "cycleSpecification": {
                "id": "15",
                "href": f"{BASE}/tmf-api/accountManagement/v4/billingCycleSpecification/15",
                "name": "Bill cycle 15",
                "@referredType": "BillingCycleSpecification",
            },
        },
        "accountRelationship": [
            {
                "relationshipType": "parent",
                "account": {
                    "id": "a-0",
                    "href": f"{href}/a-0",
                    "name": "Group",
                    "@referredType": "BillingAccount",
                },
            },
            {
                "relationshipType": "child",
                "account": {
                    "id": "a-2",
                    "href": f"{href}/a-2",
                    "name": "Family",
                    "@referredType": "BillingAccount",
                },
            },
        ],
        "defaultPaymentMethod": {
            "id": "direct_debit",
            "name": "direct_debit",
            "@referredType": "PaymentMethod",
        },
        "relatedParty": [
            {
                "id": "c-1",
                "href": f"{BASE}/tmf-api/customerManagement/v4/customer/c-1",
                "name": "Ana Lena Müller",
                "role": "customer",
                "@referredType": "Customer",
            },
            {
                "id": "a-1",
                "href": f"{href}/a-1",
                "name": "Ana Müller",
                "@referredType": "BillingAccount",
                "role": "payer",
            },
        ],
        "characteristic": [
            {"name": "accountNumber", "value": "A-1001", "valueType": "string"},
            {"name": "paymentResponsible", "value": True, "valueType": "boolean"},
            {"name": "childCount", "value": 1, "valueType": "integer"},
        ],
        "creditLimit": {"unit": "EUR", "value": 250.5},
    }


def test_an_account_nobody_pays_for_has_no_payer_and_no_optional_parts() -> None:
    document = m.billing_account_document(
        account(bill_cycle=None, credit_limit=None, payment_responsible=False),
        BASE,
        customer=None,
        parent=None,
        children=[],
        child_count=0,
        payer=None,
    )
    assert document["relatedParty"] == []
    assert document["accountRelationship"] == []
    assert "cycleSpecification" not in document["billStructure"]
    assert "creditLimit" not in document


def test_children_are_capped_and_counted() -> None:
    children = [account(id=f"a-{n}", parent_id="a-1") for n in range(m.CHILD_REFS + 5)]
    document = m.billing_account_document(
        account(),
        BASE,
        customer=None,
        parent=None,
        children=children,
        child_count=len(children),
        payer=None,
    )
    assert len(document["accountRelationship"]) == m.CHILD_REFS
    count = next(c for c in document["characteristic"] if c["name"] == "childCount")
    assert count["value"] == m.CHILD_REFS + 5


def test_a_whole_credit_limit_is_an_integer() -> None:
    document = m.billing_account_document(
        account(credit_limit={"amount": "100.000000", "currency": "EUR"}),
        BASE,
        customer=None,
        parent=None,
        children=[],
        child_count=0,
        payer=None,
    )
    assert document["creditLimit"] == {"unit": "EUR", "value": 100}


def test_a_bill_cycle_that_is_a_day_of_month_has_a_date_shift() -> None:
    assert m.cycle_document("08", BASE) == {
        "@type": "BillingCycleSpecification",
        "id": "08",
        "href": f"{BASE}/tmf-api/accountManagement/v4/billingCycleSpecification/08",
        "name": "Bill cycle 08",
        "description": "BSCS bill cycle 08",
        "frequency": "monthly",
        "billingDateShift": 7,
    }
    assert "billingDateShift" not in m.cycle_document("Q1", BASE)


def test_there_is_one_bill_format() -> None:
    [only] = m.bill_format_documents(BASE)
    assert (only["@type"], only["id"]) == ("BillFormat", "standard")
    assert only["href"] == m.bill_format_ref(BASE)["href"]


# ---------------------------------------------------------------------------- writing


def test_a_customer_post_body_becomes_a_customer_create_payload() -> None:
    body = {
        "@type": "Customer",
        "name": "ignored: derived from the party",
        "status": "prospect",
        "engagedParty": {
            "@referredType": "Individual",
            "givenName": "Ana",
            "familyName": "Müller",
            "birthDate": "1984-05-17",
            "individualIdentification": [
                {
                    "identificationType": "tin",
                    "identificationId": "DE1",
                    "issuingAuthority": "DE",
                    "validFor": {"startDateTime": "2020-01-01T00:00:00Z"},
                }
            ],
        },
        "characteristic": [
            {"name": "customerNumber", "value": "C-9"},
            {"name": "segment", "value": "vip"},
        ],
        "contactMedium": m.contact_media(individual_customer()),
        "relatedParty": [{"name": "Jan Peter Müller", "role": "billing_contact"}],
    }
    assert m.customer_create_payload(body) == {
        "status": "prospect",
        "customer_number": "C-9",
        "segment": "vip",
        "party": {
            "kind": "individual",
            "given_name": "Ana",
            "family_name": "Müller",
            "birth_date": "1984-05-17",
        },
        "identifications": [
            {"type": "tin", "value": "DE1", "issuing_country": "DE", "valid_from": "2020-01-01"}
        ],
        "contact_media": [
            {"type": "email", "value": "ana@example.com", "preferred": True},
            {"type": "mobile", "value": "+491701234567", "preferred": False},
            {"type": "fax", "value": "+49301234567", "preferred": False},
        ],
        "addresses": [
            {
                "role": "billing",
                "lines": ["Hauptstraße 1", "Hinterhaus", "3. OG"],
                "postcode": "10115",
                "city": "Berlin",
                "region": "BE",
                "country": "DE",
                "valid_to": "2030-12-31",
            }
        ],
        "contact_persons": [
            {
                "role": "billing_contact",
                "given_name": "Jan Peter",
                "family_name": "Müller",
                "contact_media": [],
            }
        ],
    }


def test_an_organization_post_body_maps_its_party() -> None:
    payload = m.customer_create_payload(
        {
            "engagedParty": {
                "@type": "Organization",
                "name": "Nordwind AG",
                "tradingName": "Nordwind",
                "organizationType": "AG",
                "organizationIdentification": [
                    {"identificationType": "company_registration", "identificationId": "HRB 1"}
                ],
            },
            "characteristic": [{"name": "customerNumber", "value": "C-2"}],
        }
    )
    assert payload["party"] == {
        "kind": "organization",
        "name": "Nordwind AG",
        "trading_name": "Nordwind",
        "legal_form": "AG",
    }
    assert payload["identifications"] == [{"type": "company_registration", "value": "HRB 1"}]


def _fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [v.field for v in exc.value.violations]


def test_a_customer_post_names_each_problem_by_its_tmf_attribute() -> None:
    with pytest.raises(ValidationFailed) as exc:
        m.customer_create_payload(
            {
                "colour": "blue",
                "engagedParty": {"@referredType": "Robot", "givenName": "R2"},
                "characteristic": [{"name": "shoeSize", "value": 44}],
                "contactMedium": [{"mediumType": "pigeon"}],
            }
        )
    assert _fields(exc) == [
        "colour",
        "characteristic.shoeSize",
        "characteristic.customerNumber",
        "engagedParty.@referredType",
        "contactMedium.0.mediumType",
    ]


def test_an_unknown_party_attribute_is_named() -> None:
    with pytest.raises(ValidationFailed) as exc:
        m.customer_create_payload(
            {
                "engagedParty": {"@referredType": "Individual", "givenName": "A", "shoe": 1},
                "characteristic": [{"name": "customerNumber", "value": "C-1"}],
            }
        )
    assert _fields(exc) == ["engagedParty.shoe"]


def test_a_party_patch_maps_attributes_identifications_and_contact_medium() -> None:
    current = m.party_document(individual_customer(), BASE)
    patch = {
        "familyName": "Adler",
        "birthDate": None,
        "individualIdentification": [],
        "contactMedium": [
            {"mediumType": "telephone", "characteristic": {"phoneNumber": "+4930999"}}
        ],
        "id": "c-1",  # unchanged read-only attributes are accepted
        "fullName": "Ana Lena Müller",
    }
    assert m.party_patch("individual", patch, current) == {
        "party": {"family_name": "Adler", "birth_date": None},
        "identifications": [],
        "contact_media": [{"type": "phone", "value": "+4930999", "preferred": False}],
        "addresses": [],
    }


def test_an_organization_patch_maps_its_names() -> None:
    current = m.party_document(organization_customer(), BASE)
    patch = {"name": "Nordwind SE", "organizationType": "SE", "tradingName": None}
    assert m.party_patch("organization", patch, current) == {
        "party": {"name": "Nordwind SE", "legal_form": "SE", "trading_name": None}
    }


def test_a_party_patch_changing_a_read_only_attribute_is_refused() -> None:
    current = m.party_document(individual_customer(), BASE)
    with pytest.raises(ValidationFailed) as exc:
        m.party_patch("individual", {"fullName": "X Y", "id": "other"}, current)
    assert _fields(exc) == ["fullName", "id"]


def test_a_party_patch_that_changes_nothing_is_refused() -> None:
    current = m.party_document(individual_customer(), BASE)
    with pytest.raises(ValidationFailed):
        m.party_patch("individual", {"id": "c-1"}, current)


def test_a_customer_patch_maps_each_writable_attribute() -> None:
    current = m.customer_document(individual_customer(), [], BASE)
    patch = {
        "status": "suspended",
        "characteristic": [
            {"name": "customerNumber", "value": "C-1002"},
            {"name": "segment", "value": "vip"},
        ],
        "engagedParty": {"id": "c-1", "givenName": "Anna", "name": "ignored for individuals"},
        "contactMedium": [],
        "relatedParty": [{"id": "cp-9", "givenName": "Eva", "familyName": "Ott", "role": "x"}],
    }
    assert m.customer_patch(patch, current) == {
        "status": "suspended",
        "customer_number": "C-1002",
        "segment": "vip",
        "party": {"given_name": "Anna"},
        "contact_media": [],
        "addresses": [],
        "contact_persons": [
            {
                "role": "x",
                "given_name": "Eva",
                "family_name": "Ott",
                "id": "cp-9",
                "contact_media": [],
            }
        ],
    }


def test_an_organization_customer_patch_renames_through_engaged_party() -> None:
    current = m.customer_document(organization_customer(), [], BASE)
    patch = {"engagedParty": {"name": "Nordwind SE"}}
    assert m.customer_patch(patch, current) == {"party": {"name": "Nordwind SE"}}


def test_a_customer_patch_of_derived_attributes_is_refused_naming_them() -> None:
    current = m.customer_document(individual_customer(), [], BASE)
    with pytest.raises(ValidationFailed) as exc:
        m.customer_patch(
            {
                "name": "Other",
                "account": [{"id": "a-9"}],
                "characteristic": [{"name": "x", "value": 1}],
            },
            current,
        )
    assert _fields(exc) == ["name", "account", "characteristic.x"]


def test_a_customer_patch_repeating_current_values_is_accepted() -> None:
    current = m.customer_document(individual_customer(), [], BASE)
    assert m.customer_patch({"name": current["name"], "status": "active"}, current) == {
        "status": "active"
    }


def test_a_billing_account_post_body_becomes_an_account_create_payload() -> None:
    body = {
        "name": "Family",
        "state": "active",
        "characteristic": [
            {"name": "accountNumber", "value": "A-2"},
            {"name": "paymentResponsible", "value": False},
        ],
        "relatedParty": [{"id": "c-1", "role": "customer"}, {"id": "x", "role": "payer"}],
        "accountRelationship": [{"relationshipType": "parent", "account": {"id": "a-1"}}],
        "billStructure": {"cycleSpecification": {"id": "08"}},
        "defaultPaymentMethod": {"id": "card"},
        "creditLimit": {"unit": "EUR", "value": 99.5},
    }
    assert m.account_create_payload(body) == {
        "name": "Family",
        "number": "A-2",
        "payment_responsible": False,
        "customer": "c-1",
        "parent": "a-1",
        "bill_cycle": "08",
        "payment_method": "card",
        "credit_limit": {"amount": "99.5", "currency": "EUR"},
    }


def test_a_billing_account_post_names_each_problem() -> None:
    with pytest.raises(ValidationFailed) as exc:
        m.account_create_payload(
            {
                "name": "X",
                "state": "closed",
                "accountRelationship": [
                    {"relationshipType": "parent", "account": {}},
                    {"relationshipType": "cousin"},
                ],
                "creditLimit": {"unit": "EUR", "value": "lots"},
            }
        )
    assert _fields(exc) == [
        "state",
        "characteristic.accountNumber",
        "relatedParty",
        "accountRelationship.0.account.id",
        "accountRelationship.1.relationshipType",
        "creditLimit.value",
    ]


def _current_account(parent: str | None = "a-0", paying: bool = True) -> dict[str, Any]:
    return m.billing_account_document(
        account(parent_id=parent, payment_responsible=paying),
        BASE,
        customer=None,
        parent={"id": parent, "name": "P"} if parent else None,
        children=[],
        child_count=0,
        payer=None,
    )


def test_an_account_patch_of_parent_and_payment_is_a_move_then_a_payment_change() -> None:
    patch = {
        "accountRelationship": [{"relationshipType": "parent", "account": {"id": "a-9"}}],
        "characteristic": [
            {"name": "paymentResponsible", "value": False},
            {"name": "accountNumber", "value": "A-1001"},
        ],
    }
    assert m.account_patch_operations(patch, _current_account()) == [
        ("account.move", {"parent": "a-9"}),
        ("account.set_payment_responsibility", {"payment_responsible": False}),
    ]


def test_an_account_patch_without_a_parent_makes_a_root() -> None:
    assert m.account_patch_operations({"accountRelationship": []}, _current_account()) == [
        ("account.move", {"parent": None})
    ]


def test_an_account_patch_repeating_current_values_needs_no_operation() -> None:
    current = _current_account()
    patch = {
        "name": current["name"],
        "accountRelationship": current["accountRelationship"],
        "characteristic": current["characteristic"],
    }
    assert m.account_patch_operations(patch, current) == []


def test_an_account_patch_of_what_no_request_changes_is_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        m.account_patch_operations(
            {
                "name": "New",
                "creditLimit": {"unit": "EUR", "value": 1},
                "characteristic": [
                    {"name": "accountNumber", "value": "A-9"},
                    {"name": "paymentResponsible", "value": "yes"},
                ],
            },
            _current_account(),
        )
    assert _fields(exc) == [
        "name",
        "creditLimit",
        "characteristic.accountNumber",
        "characteristic.paymentResponsible",
    ]


@pytest.mark.parametrize(
    ("canonical", "tmf"),
    [
        ("party.birth_date", "engagedParty.birthDate"),
        ("party.legal_form", "engagedParty.organizationType"),
        ("identifications.0.value", "engagedParty.individualIdentification.0.identificationId"),
        ("contact_media.1.value", "contactMedium.1.characteristic"),
        ("addresses.0.postcode", "contactMedium.0.characteristic.postCode"),
        ("customer_number", "characteristic.customerNumber"),
        ("number", "characteristic.accountNumber"),
        ("bill_cycle", "billStructure.cycleSpecification.id"),
        ("parent", "accountRelationship"),
        ("something_else", "something_else"),
    ],
)
def test_refused_canonical_fields_are_named_as_tmf_attributes(canonical: str, tmf: str) -> None:
    assert m.tmf_field(canonical) == tmf


def test_on_a_party_resource_party_fields_have_no_prefix() -> None:
    assert m.tmf_field("party.given_name", party_prefix="") == "givenName"
    assert (
        m.tmf_field("identifications.0.type", party_prefix="", kind="organization")
        == "organizationIdentification.0.identificationType"
    )


def test_a_customer_patch_cannot_turn_an_individual_into_an_organization() -> None:
    current = m.customer_document(individual_customer(), [], BASE)
    with pytest.raises(ValidationFailed) as exc:
        m.customer_patch({"engagedParty": {"@referredType": "Organization", "name": "X"}}, current)
    assert _fields(exc) == ["engagedParty.@referredType"]
