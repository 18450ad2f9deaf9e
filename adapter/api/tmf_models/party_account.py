"""Canonical model ⇄ TM Forum Open API v4 resources, in one place: TMF629 Customer, TMF632
Individual and Organization, TMF666 BillingAccount, BillFormat and BillingCycleSpecification.

Pure functions over JSON-like data (the canonical snapshots the store holds): no database, no
HTTP. The routes in ``adapter/api/routes/tmf_*.py`` read, call these, and render.

Reading (canonical → TMF):

- A customer's **party** has no id of its own in the canonical model: the Individual or
  Organization resource has the customer's id, and ``Customer.engagedParty`` refers to it.
- **Contact media and addresses** are both ``contactMedium`` items: e-mail (``mediumType``
  ``email``), phone/mobile (``telephone``, ``characteristic.contactType`` ``phone``/``mobile``),
  fax (``fax``) and postal addresses (``postalAddress``, ``contactType`` the address role,
  ``street1`` the first line and ``street2`` the others joined by newlines).
- **Identifications** are ``individualIdentification`` / ``organizationIdentification`` items
  (``identificationType`` the canonical type: ``tin``, ``personal_id``, ``passport``,
  ``company_registration``; ``issuingAuthority`` the issuing country).
- **Contact persons** are ``relatedParty`` items of the customer (role = their role).
- **Customer number and segment** are ``characteristic`` items (``customerNumber``,
  ``segment``); an account's number and payment responsibility likewise (``accountNumber``,
  ``paymentResponsible``, ``childCount``).
- **Hierarchy**: ``accountRelationship`` items with ``relationshipType`` ``parent`` (the one
  parent) and ``child`` (children, at most :data:`CHILD_REFS` of them; ``childCount`` says how
  many there are). The **payer** (nearest payment-responsible ancestor-or-self) is the
  ``relatedParty`` with role ``payer`` (an account); the owning customer has role ``customer``.

Writing (TMF → canonical): :func:`customer_create_payload`, :func:`party_patch`,
:func:`customer_patch` and :func:`account_create_payload` turn a TMF body into a request
payload, raising :class:`~adapter.domain.errors.ValidationFailed` that names the TMF field
(``engagedParty.givenName``, ``characteristic.customerNumber``…). :func:`tmf_field` translates
a canonical field named by a request's refusal back to the TMF name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from adapter.domain.errors import ValidationFailed, Violation

CUSTOMER_PATH = "/tmf-api/customerManagement/v4/customer"
INDIVIDUAL_PATH = "/tmf-api/partyManagement/v4/individual"
ORGANIZATION_PATH = "/tmf-api/partyManagement/v4/organization"
BILLING_ACCOUNT_PATH = "/tmf-api/accountManagement/v4/billingAccount"
BILL_FORMAT_PATH = "/tmf-api/accountManagement/v4/billFormat"
BILLING_CYCLE_PATH = "/tmf-api/accountManagement/v4/billingCycleSpecification"

CHILD_REFS = 100
"""At most this many ``child`` relationships in a billingAccount (``childCount`` says how many
there are; ``/api/v1/accounts/{id}/children`` pages through all of them)."""

STANDARD_FORMAT = "standard"
"""The one bill format: the canonical model (and the BSCS-style interface) has no per-account
bill format, so every account refers to this one."""

READ_ONLY = frozenset({"id", "href", "@type", "@baseType", "@schemaLocation", "@referredType"})

PARTY_TYPES = {"individual": "Individual", "organization": "Organization"}
PARTY_KINDS = {v: k for k, v in PARTY_TYPES.items()}

# ----------------------------------------------------------------------------- helpers


def join(base: str, path: str, ident: str | None = None) -> str:
    """An href: BASE (scheme and host, no trailing slash) + PATH (+ /IDENT)."""
    return base.rstrip("/") + path + (f"/{ident}" if ident is not None else "")


def characteristic(name: str, value: Any, value_type: str = "string") -> dict[str, Any]:
    return {"name": name, "value": value, "valueType": value_type}


def valid_for(item: Mapping[str, Any]) -> dict[str, str] | None:
    """A TMF TimePeriod from a canonical validity (dates become midnight UTC)."""
    period: dict[str, str] = {}
    if item.get("valid_from"):
        period["startDateTime"] = f"{item['valid_from']}T00:00:00Z"
    if item.get("valid_to"):
        period["endDateTime"] = f"{item['valid_to']}T00:00:00Z"
    return period or None


def _with_validity(document: dict[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    period = valid_for(item)
    if period:
        document["validFor"] = period
    return document


def display_name(party: Mapping[str, Any]) -> str:
    if party.get("kind") == "organization":
        return str(party.get("name", ""))
    parts = (party.get("given_name"), party.get("middle_name"), party.get("family_name"))
    return " ".join(str(p) for p in parts if p)


def party_path(kind: str) -> str:
    return ORGANIZATION_PATH if kind == "organization" else INDIVIDUAL_PATH


def party_ref(customer: Mapping[str, Any], base: str) -> dict[str, Any]:
    party = customer["party"]
    return {
        "id": customer["id"],
        "href": join(base, party_path(party.get("kind", "individual")), customer["id"]),
        "name": display_name(party),
        "@referredType": PARTY_TYPES.get(party.get("kind", "individual"), "Individual"),
    }


def account_ref(account: Mapping[str, Any], base: str) -> dict[str, Any]:
    return {
        "id": account["id"],
        "href": join(base, BILLING_ACCOUNT_PATH, account["id"]),
        "name": account.get("name"),
        "@referredType": "BillingAccount",
    }


def _decimal_number(value: Any) -> float | int:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


# --------------------------------------------------------------------- contact medium

_MEDIUM_OF_TYPE = {"email": "email", "phone": "telephone", "mobile": "telephone", "fax": "fax"}


def contact_medium(item: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical contact medium (e-mail, phone, mobile, fax) as a TMF ContactMedium."""
    kind = str(item["type"])
    detail: dict[str, Any] = {"contactType": kind}
    if kind == "email":
        detail["emailAddress"] = item["value"]
    elif kind == "fax":
        detail["faxNumber"] = item["value"]
    else:
        detail["phoneNumber"] = item["value"]
    return {
        "mediumType": _MEDIUM_OF_TYPE.get(kind, kind),
        "preferred": bool(item.get("preferred", False)),
        "characteristic": detail,
    }


def postal_address(item: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical address as a TMF ContactMedium of type postalAddress."""
    lines = list(item.get("lines") or [])
    detail: dict[str, Any] = {
        "contactType": item["role"],
        "street1": lines[0] if lines else None,
        "postCode": item.get("postcode"),
        "city": item.get("city"),
        "country": item.get("country"),
    }
    if len(lines) > 1:
        detail["street2"] = "\n".join(lines[1:])
    if item.get("region"):
        detail["stateOrProvince"] = item["region"]
    return _with_validity(
        {"mediumType": "postalAddress", "preferred": False, "characteristic": detail}, item
    )


def contact_media(customer: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [contact_medium(m) for m in customer.get("contact_media") or []] + [
        postal_address(a) for a in customer.get("addresses") or []
    ]


def identification(item: Mapping[str, Any], organization: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "identificationType": item["type"],
        "identificationId": item["value"],
    }
    if item.get("issuing_country"):
        document["issuingAuthority"] = item["issuing_country"]
    document["@type"] = "OrganizationIdentification" if organization else "IndividualIdentification"
    return _with_validity(document, item)


def contact_person(person: Mapping[str, Any]) -> dict[str, Any]:
    """A contact person as a relatedParty of the customer (the role is theirs)."""
    name = " ".join(str(p) for p in (person.get("given_name"), person.get("family_name")) if p)
    return _with_validity(
        {
            "id": person["id"],
            "name": name,
            "role": person["role"],
            "@referredType": "Individual",
            "contactMedium": [contact_medium(m) for m in person.get("contact_media") or []],
        },
        person,
    )


# ---------------------------------------------------------------------------- reading


def customer_document(
    customer: Mapping[str, Any], accounts: Sequence[Mapping[str, Any]], base: str
) -> dict[str, Any]:
    """TMF629 Customer from a canonical customer snapshot and its accounts."""
    methods = sorted({str(a.get("payment_method")) for a in accounts if a.get("payment_method")})
    return {
        "@type": "Customer",
        "@baseType": "PartyRole",
        "id": customer["id"],
        "href": join(base, CUSTOMER_PATH, customer["id"]),
        "name": display_name(customer["party"]),
        "status": customer.get("status"),
        "engagedParty": party_ref(customer, base),
        "contactMedium": contact_media(customer),
        "characteristic": [
            characteristic("customerNumber", customer.get("customer_number")),
            characteristic("segment", customer.get("segment")),
        ],
        "account": [account_ref(a, base) for a in accounts],
        "paymentMethod": [{"id": m, "name": m, "@referredType": "PaymentMethod"} for m in methods],
        "relatedParty": [contact_person(p) for p in customer.get("contact_persons") or []],
        "agreement": [],
        "creditProfile": [],
    }


def party_document(customer: Mapping[str, Any], base: str) -> dict[str, Any]:
    """TMF632 Individual or Organization: the party of a canonical customer snapshot."""
    party = customer["party"]
    organization = party.get("kind") == "organization"
    document: dict[str, Any] = {
        "@type": "Organization" if organization else "Individual",
        "@baseType": "Party",
        "id": customer["id"],
        "href": join(base, party_path(party.get("kind", "individual")), customer["id"]),
    }
    if organization:
        document |= {
            "name": party.get("name"),
            "tradingName": party.get("trading_name"),
            "organizationType": party.get("legal_form"),
            "isLegalEntity": True,
            "organizationIdentification": [
                identification(i, organization=True) for i in customer.get("identifications") or []
            ],
        }
    else:
        document |= {
            "givenName": party.get("given_name"),
            "familyName": party.get("family_name"),
            "middleName": party.get("middle_name"),
            "title": party.get("title"),
            "fullName": display_name(party),
            "birthDate": party.get("birth_date"),
            "gender": party.get("gender"),
            "nationality": party.get("nationality"),
            "individualIdentification": [
                identification(i) for i in customer.get("identifications") or []
            ],
        }
    document["contactMedium"] = contact_media(customer)
    document["partyCharacteristic"] = []
    document["relatedParty"] = [
        {
            "id": customer["id"],
            "href": join(base, CUSTOMER_PATH, customer["id"]),
            "name": display_name(party),
            "role": "customer",
            "@referredType": "Customer",
        }
    ]
    return document


def billing_account_document(
    account: Mapping[str, Any],
    base: str,
    *,
    customer: Mapping[str, Any] | None,
    parent: Mapping[str, Any] | None,
    children: Sequence[Mapping[str, Any]],
    child_count: int,
    payer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """TMF666 BillingAccount from a canonical account snapshot, its owning customer, its parent,
    (the first :data:`CHILD_REFS` of) its children and its payer (None: nobody pays)."""
    relationships: list[dict[str, Any]] = []
    if parent is not None:
        relationships.append({"relationshipType": "parent", "account": account_ref(parent, base)})
    relationships.extend(
        {"relationshipType": "child", "account": account_ref(c, base)}
        for c in children[:CHILD_REFS]
    )
    related: list[dict[str, Any]] = []
    if customer is not None:
        related.append(
            {
                "id": customer["id"],
                "href": join(base, CUSTOMER_PATH, customer["id"]),
                "name": display_name(customer["party"]),
                "role": "customer",
                "@referredType": "Customer",
            }
        )
    if payer is not None:
        related.append({**account_ref(payer, base), "role": "payer"})
    structure: dict[str, Any] = {
        "format": bill_format_ref(base),
        "presentationMedia": [],
    }
    if account.get("bill_cycle"):
        structure["cycleSpecification"] = cycle_ref(str(account["bill_cycle"]), base)
    document: dict[str, Any] = {
        "@type": "BillingAccount",
        "@baseType": "Account",
        "id": account["id"],
        "href": join(base, BILLING_ACCOUNT_PATH, account["id"]),
        "name": account.get("name"),
        "accountType": "billing",
        "state": account.get("status"),
        "billStructure": structure,
        "accountRelationship": relationships,
        "defaultPaymentMethod": {
            "id": account.get("payment_method"),
            "name": account.get("payment_method"),
            "@referredType": "PaymentMethod",
        },
        "relatedParty": related,
        "characteristic": [
            characteristic("accountNumber", account.get("number")),
            characteristic(
                "paymentResponsible", bool(account.get("payment_responsible")), "boolean"
            ),
            characteristic("childCount", child_count, "integer"),
        ],
    }
    limit = account.get("credit_limit")
    if limit:
        document["creditLimit"] = {
            "unit": limit["currency"],
            "value": _decimal_number(limit["amount"]),
        }
    return document


def bill_format_ref(base: str) -> dict[str, Any]:
    return {
        "id": STANDARD_FORMAT,
        "href": join(base, BILL_FORMAT_PATH, STANDARD_FORMAT),
        "name": "Standard bill",
        "@referredType": "BillFormat",
    }


def bill_format_documents(base: str) -> list[dict[str, Any]]:
    """Every bill format (one: the model has no per-account format)."""
    return [
        {
            "@type": "BillFormat",
            "id": STANDARD_FORMAT,
            "href": join(base, BILL_FORMAT_PATH, STANDARD_FORMAT),
            "name": "Standard bill",
            "description": "The bill layout of the account's bill cycle; the CRM keeps no "
            "per-account format, so every billing account refers to this one.",
        }
    ]


def cycle_ref(code: str, base: str) -> dict[str, Any]:
    return {
        "id": code,
        "href": join(base, BILLING_CYCLE_PATH, code),
        "name": f"Bill cycle {code}",
        "@referredType": "BillingCycleSpecification",
    }


def cycle_document(code: str, base: str) -> dict[str, Any]:
    """A bill cycle code (BSCS's ``billCycle``: "01", "15"…) as a BillingCycleSpecification;
    a code that is a day of the month says so as ``billingDateShift`` (days after the 1st)."""
    document: dict[str, Any] = {
        "@type": "BillingCycleSpecification",
        "id": code,
        "href": join(base, BILLING_CYCLE_PATH, code),
        "name": f"Bill cycle {code}",
        "description": f"BSCS bill cycle {code}",
        "frequency": "monthly",
    }
    if code.isdigit() and 1 <= int(code) <= 31:
        document["billingDateShift"] = int(code) - 1
    return document


# ---------------------------------------------------------------------------- writing


class _Problems:
    """Collects violations named by their TMF field, raised together."""

    def __init__(self) -> None:
        self.found: list[Violation] = []

    def add(self, field: str, rule: str, message: str) -> None:
        self.found.append(Violation(field, rule, message))

    def check(self) -> None:
        if self.found:
            raise ValidationFailed(self.found)


def _as_object(value: Any, field: str, problems: _Problems) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.add(field, "type", "must be an object")
        return None
    return value


def _as_list(value: Any, field: str, problems: _Problems) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(field, "type", "must be a list")
        return []
    return value


def _date(value: Any) -> str | None:
    """The date part of a TMF date-time (the canonical model keeps dates)."""
    return None if value is None else str(value)[:10]


def _validity_from(item: Mapping[str, Any], field: str, problems: _Problems) -> dict[str, Any]:
    period = _as_object(item.get("validFor"), f"{field}.validFor", problems) or {}
    found: dict[str, Any] = {}
    if period.get("startDateTime"):
        found["valid_from"] = _date(period["startDateTime"])
    if period.get("endDateTime"):
        found["valid_to"] = _date(period["endDateTime"])
    return found


def contact_media_from(value: Any, field: str, problems: _Problems) -> dict[str, list[Any]]:
    """TMF contactMedium items → canonical ``contact_media`` and ``addresses``."""
    media: list[dict[str, Any]] = []
    addresses: list[dict[str, Any]] = []
    for n, raw in enumerate(_as_list(value, field, problems)):
        where = f"{field}.{n}"
        item = _as_object(raw, where, problems)
        if item is None:
            continue
        detail = _as_object(item.get("characteristic"), f"{where}.characteristic", problems) or {}
        medium = item.get("mediumType")
        preferred = bool(item.get("preferred", False))
        if medium == "email":
            media.append(
                {"type": "email", "value": detail.get("emailAddress"), "preferred": preferred}
            )
        elif medium in ("telephone", "phone", "mobile"):
            kind = "mobile" if (detail.get("contactType") or medium) == "mobile" else "phone"
            media.append({"type": kind, "value": detail.get("phoneNumber"), "preferred": preferred})
        elif medium == "fax":
            media.append({"type": "fax", "value": detail.get("faxNumber"), "preferred": preferred})
        elif medium == "postalAddress":
            lines = [detail.get("street1"), *str(detail.get("street2") or "").split("\n")]
            address: dict[str, Any] = {
                "role": detail.get("contactType"),
                "lines": [line for line in lines if line],
                "postcode": detail.get("postCode"),
                "city": detail.get("city"),
                "country": detail.get("country"),
            }
            if detail.get("stateOrProvince"):
                address["region"] = detail["stateOrProvince"]
            addresses.append(address | _validity_from(item, where, problems))
        else:
            problems.add(
                f"{where}.mediumType",
                "choice",
                "must be one of email, telephone, fax, postalAddress",
            )
    return {"contact_media": media, "addresses": addresses}


def identifications_from(value: Any, field: str, problems: _Problems) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for n, raw in enumerate(_as_list(value, field, problems)):
        where = f"{field}.{n}"
        item = _as_object(raw, where, problems)
        if item is None:
            continue
        ident: dict[str, Any] = {
            "type": item.get("identificationType"),
            "value": item.get("identificationId"),
        }
        if item.get("issuingAuthority"):
            ident["issuing_country"] = item["issuingAuthority"]
        found.append(ident | _validity_from(item, where, problems))
    return found


def contact_persons_from(value: Any, field: str, problems: _Problems) -> list[dict[str, Any]]:
    """Customer relatedParty items → contact persons. ``name`` is "given family" (the last
    word is the family name) unless ``givenName``/``familyName`` are given."""
    found: list[dict[str, Any]] = []
    for n, raw in enumerate(_as_list(value, field, problems)):
        where = f"{field}.{n}"
        item = _as_object(raw, where, problems)
        if item is None:
            continue
        given, family = item.get("givenName"), item.get("familyName")
        if not (given and family):
            words = str(item.get("name") or "").split()
            if len(words) < 2:
                problems.add(f"{where}.name", "required", "give the person's given and family name")
                continue
            given, family = " ".join(words[:-1]), words[-1]
        person: dict[str, Any] = {"role": item.get("role"), "given_name": given}
        person["family_name"] = family
        if item.get("id"):
            person["id"] = item["id"]
        contacts = contact_media_from(item.get("contactMedium"), f"{where}.contactMedium", problems)
        person["contact_media"] = contacts["contact_media"]
        found.append(person | _validity_from(item, where, problems))
    return found


_INDIVIDUAL_FIELDS = {
    "givenName": "given_name",
    "familyName": "family_name",
    "middleName": "middle_name",
    "title": "title",
    "birthDate": "birth_date",
    "gender": "gender",
    "nationality": "nationality",
}
_ORGANIZATION_FIELDS = {
    "name": "name",
    "tradingName": "trading_name",
    "organizationType": "legal_form",
}
_IDENTIFICATIONS = {
    "individual": "individualIdentification",
    "organization": "organizationIdentification",
}


def _unchangeable(
    patch: Mapping[str, Any],
    current: Mapping[str, Any],
    names: Iterable[str],
    prefix: str,
    problems: _Problems,
    why: str,
) -> None:
    """A patch may repeat a read-only attribute's current value, never change it."""
    for name in names:
        if name in patch and patch[name] != current.get(name):
            problems.add(f"{prefix}{name}", "read_only", why)


def _party_fields(kind: str, body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The canonical party (or party patch) for a TMF Individual/Organization body."""
    mapping = _ORGANIZATION_FIELDS if kind == "organization" else _INDIVIDUAL_FIELDS
    party: dict[str, Any] = {"kind": kind} if creating else {}
    for tmf_name, canonical in mapping.items():
        if tmf_name in body:
            party[canonical] = body[tmf_name]
    return party


def party_patch(
    kind: str, patch: Mapping[str, Any], current: Mapping[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """A merge patch of a TMF632 Individual/Organization (KIND) → a ``customer.update`` patch.
    CURRENT: the party's TMF document now (read-only attributes may be sent unchanged)."""
    problems = _Problems()
    mapping = _ORGANIZATION_FIELDS if kind == "organization" else _INDIVIDUAL_FIELDS
    idents = _IDENTIFICATIONS[kind]
    writable = {*mapping, idents, "contactMedium"}
    _unchangeable(
        patch,
        current,
        [k for k in patch if k not in writable],
        prefix,
        problems,
        "cannot be changed here",
    )
    result: dict[str, Any] = {}
    party = _party_fields(kind, patch, creating=False)
    if party:
        result["party"] = party
    if idents in patch:
        result["identifications"] = identifications_from(
            patch[idents], f"{prefix}{idents}", problems
        )
    if "contactMedium" in patch:
        result |= contact_media_from(patch["contactMedium"], f"{prefix}contactMedium", problems)
    problems.check()
    if not result:
        raise ValidationFailed.one(prefix.rstrip(".") or "body", "required", "changes nothing")
    return result


def _characteristics(value: Any, field: str, problems: _Problems) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for n, raw in enumerate(_as_list(value, field, problems)):
        item = _as_object(raw, f"{field}.{n}", problems)
        if item is None:
            continue
        if not isinstance(item.get("name"), str):
            problems.add(f"{field}.{n}.name", "required", "a characteristic needs a name")
            continue
        found[item["name"]] = item.get("value")
    return found


def customer_patch(patch: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch of a TMF629 Customer → a ``customer.update`` patch. ``status``,
    ``characteristic`` (customerNumber, segment), ``engagedParty`` (the party's attributes, as
    in :func:`party_patch`), ``contactMedium`` and ``relatedParty`` (contact persons) change;
    other attributes may only repeat their current value."""
    problems = _Problems()
    writable = {"status", "characteristic", "engagedParty", "contactMedium", "relatedParty"}
    _unchangeable(
        patch,
        current,
        [k for k in patch if k not in writable],
        "",
        problems,
        "cannot be changed on the customer (accounts: billingAccount; the name: engagedParty)",
    )
    result: dict[str, Any] = {}
    if "status" in patch:
        result["status"] = patch["status"]
    if "characteristic" in patch:
        chars = _characteristics(patch["characteristic"], "characteristic", problems)
        for name, value in chars.items():
            if name == "customerNumber":
                result["customer_number"] = value
            elif name == "segment":
                result["segment"] = value
            else:
                problems.add(
                    f"characteristic.{name}", "known", "only customerNumber and segment exist"
                )
    if "engagedParty" in patch:
        engaged = _as_object(patch["engagedParty"], "engagedParty", problems) or {}
        kind = PARTY_KINDS.get(str(current.get("engagedParty", {}).get("@referredType")), "")
        referred = engaged.get("@referredType") or engaged.get("@type")
        if referred is not None and PARTY_KINDS.get(str(referred)) != kind:
            problems.add(
                "engagedParty.@referredType",
                "read_only",
                "a customer's party cannot change between Individual and Organization",
            )
        party_attributes = {
            k: v for k, v in engaged.items() if k not in READ_ONLY and k not in ("name",)
        }
        if "name" in engaged and kind == "organization":
            party_attributes["name"] = engaged["name"]
        if party_attributes:
            try:
                result |= party_patch(kind or "individual", party_attributes, {}, "engagedParty.")
            except ValidationFailed as exc:
                problems.found.extend(exc.violations)
    if "contactMedium" in patch:
        result |= contact_media_from(patch["contactMedium"], "contactMedium", problems)
    if "relatedParty" in patch:
        result["contact_persons"] = contact_persons_from(
            patch["relatedParty"], "relatedParty", problems
        )
    problems.check()
    if not result:
        raise ValidationFailed.one("body", "required", "the patch changes nothing")
    return result


def customer_create_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """A TMF629 Customer POST body → a ``customer.create`` payload. ``engagedParty`` carries
    the party by value (``@referredType``/``@type`` Individual or Organization with its
    attributes and identifications); ``characteristic`` ``customerNumber`` is required,
    ``segment`` optional; ``contactMedium`` and ``relatedParty`` (contact persons) optional."""
    problems = _Problems()
    allowed = {
        "name",
        "status",
        "engagedParty",
        "characteristic",
        "contactMedium",
        "relatedParty",
        "@type",
        "@baseType",
        "@schemaLocation",
    }
    for key in body:
        if key not in allowed:
            problems.add(key, "known", "not an attribute a new customer takes")
    payload: dict[str, Any] = {}
    if "status" in body:
        payload["status"] = body["status"]
    chars = _characteristics(body.get("characteristic"), "characteristic", problems)
    for name in chars:
        if name not in ("customerNumber", "segment"):
            problems.add(f"characteristic.{name}", "known", "only customerNumber and segment exist")
    if chars.get("customerNumber") is None:
        problems.add("characteristic.customerNumber", "required", "a new customer needs its number")
    else:
        payload["customer_number"] = chars["customerNumber"]
    if chars.get("segment") is not None:
        payload["segment"] = chars["segment"]
    engaged = _as_object(body.get("engagedParty"), "engagedParty", problems)
    if engaged is None:
        problems.add("engagedParty", "required", "give the party (Individual or Organization)")
    else:
        referred = engaged.get("@referredType") or engaged.get("@type")
        kind = PARTY_KINDS.get(str(referred))
        if kind is None:
            problems.add(
                "engagedParty.@referredType", "choice", "must be Individual or Organization"
            )
        else:
            known = {*(_ORGANIZATION_FIELDS if kind == "organization" else _INDIVIDUAL_FIELDS)}
            known |= {_IDENTIFICATIONS[kind], "@referredType", "@type", "@baseType"}
            if kind == "individual":
                known.add("fullName")
            for key in engaged:
                if key not in known:
                    problems.add(f"engagedParty.{key}", "known", f"not an attribute of {referred}")
            payload["party"] = _party_fields(kind, engaged, creating=True)
            payload["identifications"] = identifications_from(
                engaged.get(_IDENTIFICATIONS[kind]),
                f"engagedParty.{_IDENTIFICATIONS[kind]}",
                problems,
            )
    payload |= contact_media_from(body.get("contactMedium"), "contactMedium", problems)
    if body.get("relatedParty") is not None:
        payload["contact_persons"] = contact_persons_from(
            body["relatedParty"], "relatedParty", problems
        )
    problems.check()
    return payload


def _ref_id(value: Any, field: str, problems: _Problems) -> str | None:
    ref = _as_object(value, field, problems)
    if ref is None:
        return None
    if not isinstance(ref.get("id"), str) or not ref["id"]:
        problems.add(f"{field}.id", "required", "a reference needs an id")
        return None
    return str(ref["id"])


def parent_from(relationships: Any, field: str, problems: _Problems) -> tuple[bool, str | None]:
    """(whether a parent relationship is among RELATIONSHIPS, its account id). ``child`` items
    are other accounts' parent links and are not read."""
    parents: list[str | None] = []
    for n, raw in enumerate(_as_list(relationships, field, problems)):
        item = _as_object(raw, f"{field}.{n}", problems)
        if item is None:
            continue
        kind = item.get("relationshipType")
        if kind == "parent":
            parents.append(_ref_id(item.get("account"), f"{field}.{n}.account", problems))
        elif kind != "child":
            problems.add(f"{field}.{n}.relationshipType", "choice", "must be parent or child")
    if len(parents) > 1:
        problems.add(field, "unique", "an account has at most one parent")
    return (bool(parents), parents[0] if parents else None)


def account_create_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """A TMF666 BillingAccount POST body → an ``account.create`` payload: ``name``;
    ``characteristic`` ``accountNumber`` (required) and ``paymentResponsible``; ``relatedParty``
    with role ``customer`` (the owning customer, required); ``accountRelationship`` with a
    ``parent`` (optional); ``billStructure.cycleSpecification.id`` (the bill cycle),
    ``defaultPaymentMethod.id``, ``creditLimit`` {unit, value}."""
    problems = _Problems()
    allowed = {
        "name",
        "accountType",
        "state",
        "characteristic",
        "relatedParty",
        "accountRelationship",
        "billStructure",
        "defaultPaymentMethod",
        "creditLimit",
        "@type",
        "@baseType",
        "@schemaLocation",
    }
    for key in body:
        if key not in allowed:
            problems.add(key, "known", "not an attribute a new billing account takes")
    if body.get("state") not in (None, "active"):
        problems.add("state", "choice", "a new account is active")
    payload: dict[str, Any] = {"name": body.get("name")}
    chars = _characteristics(body.get("characteristic"), "characteristic", problems)
    for name in chars:
        if name not in ("accountNumber", "paymentResponsible"):
            problems.add(
                f"characteristic.{name}",
                "known",
                "only accountNumber and paymentResponsible are taken",
            )
    if chars.get("accountNumber") is None:
        problems.add("characteristic.accountNumber", "required", "a new account needs its number")
    payload["number"] = chars.get("accountNumber")
    if "paymentResponsible" in chars:
        payload["payment_responsible"] = chars["paymentResponsible"]
    owners = [
        p
        for p in _as_list(body.get("relatedParty"), "relatedParty", problems)
        if isinstance(p, Mapping) and p.get("role") == "customer"
    ]
    if len(owners) != 1:
        problems.add(
            "relatedParty", "required", "name the owning customer once (role customer, its id)"
        )
    else:
        payload["customer"] = _ref_id(owners[0], "relatedParty.customer", problems)
    _, parent = parent_from(body.get("accountRelationship"), "accountRelationship", problems)
    if parent is not None:
        payload["parent"] = parent
    structure = _as_object(body.get("billStructure"), "billStructure", problems) or {}
    if structure.get("cycleSpecification") is not None:
        payload["bill_cycle"] = _ref_id(
            structure["cycleSpecification"], "billStructure.cycleSpecification", problems
        )
    if body.get("defaultPaymentMethod") is not None:
        payload["payment_method"] = _ref_id(
            body["defaultPaymentMethod"], "defaultPaymentMethod", problems
        )
    limit = _as_object(body.get("creditLimit"), "creditLimit", problems)
    if limit is not None:
        try:
            amount = Decimal(str(limit.get("value")))
        except InvalidOperation:
            problems.add("creditLimit.value", "number", "must be a number")
        else:
            payload["credit_limit"] = {"amount": str(amount), "currency": limit.get("unit")}
    problems.check()
    return payload


def account_patch_operations(
    patch: Mapping[str, Any], current: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """A merge patch of a TMF666 BillingAccount → the request operations it takes, in order
    (without the ``account`` member): ``account.move`` when the parent relationship changes,
    ``account.set_payment_responsibility`` when ``paymentResponsible`` does. Nothing else of
    an account can be changed by a request; other attributes may only repeat their current
    value (CURRENT: the account's TMF document now)."""
    problems = _Problems()
    writable = {"accountRelationship", "characteristic"}
    _unchangeable(
        patch,
        current,
        [k for k in patch if k not in writable],
        "",
        problems,
        "no request operation changes it (writable: accountRelationship, "
        "characteristic.paymentResponsible)",
    )
    operations: list[tuple[str, dict[str, Any]]] = []
    if "accountRelationship" in patch:
        _, parent = parent_from(patch["accountRelationship"], "accountRelationship", problems)
        _, now = parent_from(current.get("accountRelationship"), "accountRelationship", _Problems())
        if parent != now:
            operations.append(("account.move", {"parent": parent}))
    if "characteristic" in patch:
        chars = _characteristics(patch["characteristic"], "characteristic", problems)
        now_chars = _characteristics(current.get("characteristic"), "characteristic", _Problems())
        for name, value in chars.items():
            if name == "paymentResponsible":
                if not isinstance(value, bool):
                    problems.add(
                        "characteristic.paymentResponsible", "type", "must be true or false"
                    )
                elif value != now_chars.get(name):
                    operations.append(
                        ("account.set_payment_responsibility", {"payment_responsible": value})
                    )
            elif name not in now_chars:
                problems.add(f"characteristic.{name}", "known", "not a characteristic of it")
            elif value != now_chars[name]:
                problems.add(f"characteristic.{name}", "read_only", "cannot be changed")
    problems.check()
    return operations


# ------------------------------------------------------------------------ field names

_CANONICAL_TO_TMF = {
    "customer_number": "characteristic.customerNumber",
    "segment": "characteristic.segment",
    "status": "status",
    "contact_media": "contactMedium",
    "addresses": "contactMedium",
    "contact_persons": "relatedParty",
    "number": "characteristic.accountNumber",
    "payment_responsible": "characteristic.paymentResponsible",
    "bill_cycle": "billStructure.cycleSpecification.id",
    "payment_method": "defaultPaymentMethod.id",
    "credit_limit": "creditLimit",
    "customer": "relatedParty",
    "parent": "accountRelationship",
    "name": "name",
}
_PARTY_TO_TMF = {v: k for k, v in {**_INDIVIDUAL_FIELDS, **_ORGANIZATION_FIELDS}.items()}
# Attributes of list items: identifications.0.value → …Identification.0.identificationId.
_LEAVES = {
    "identifications": {
        "type": "identificationType",
        "value": "identificationId",
        "issuing_country": "issuingAuthority",
    },
    "contact_media": {"type": "mediumType", "value": "characteristic"},
    "addresses": {
        "role": "characteristic.contactType",
        "lines": "characteristic.street1",
        "postcode": "characteristic.postCode",
        "city": "characteristic.city",
        "region": "characteristic.stateOrProvince",
        "country": "characteristic.country",
    },
    "contact_persons": {"given_name": "name", "family_name": "name"},
}


def tmf_field(field: str, *, party_prefix: str = "engagedParty.", kind: str = "individual") -> str:
    """A canonical field a request's refusal names (``party.birth_date``,
    ``identifications.0.value``) as the TMF attribute (``engagedParty.birthDate``…).
    PARTY_PREFIX: where the party's attributes sit in the resource ("" on Individual)."""
    parts = field.split(".")
    head, rest = parts[0], parts[1:]
    if head == "party" and rest:
        return party_prefix + ".".join([_PARTY_TO_TMF.get(rest[0], rest[0]), *rest[1:]])
    leaves = _LEAVES.get(head, {})
    if len(rest) > 1 and rest[1] in leaves:
        rest = [rest[0], leaves[rest[1]], *rest[2:]]
    if head == "identifications":
        return party_prefix + ".".join([_IDENTIFICATIONS.get(kind, head), *rest])
    if head in _CANONICAL_TO_TMF:
        return ".".join([_CANONICAL_TO_TMF[head], *rest])
    return field
