"""TMF637 Product Inventory (v4) ⇄ the canonical contracts, services and discounts.

What a product is here (docs/api.md, "TMF637 product"):

- a **contract with its subscriber** is a ``SubscriptionProduct`` (``@baseType`` Product,
  ``isBundle`` true): the rate plan is its ``productSpecification``, the contract number its
  ``productSerialNumber``, the MSISDN, IMSI, ICCID and contract data its
  ``productCharacteristic``, its services and discounts its bundled ``product`` refs;
- a **service assignment** is a ``ServiceProduct``: the service code is its specification,
  its parameters are characteristics of ``valueType`` ``string`` and its limits of
  ``valueType`` ``quantity`` (``{"amount", "units"}``); ``productRelationship``
  ``bundledIn`` names its contract product;
- a **discount or promotion assignment** is a ``DiscountProduct``: its value is a
  ``productPrice`` alteration (``priceType`` discount or promotion, ``price.percentage`` or
  ``price.taxIncludedAmount``), it ``appliesTo`` the contract product it is on (none for an
  account-level one: ``billingAccount`` says where), and ``level``/``inherited`` are
  characteristics.

A product id is ``<kind>:<canonical id>`` (``contract:…``, ``service:…``, ``discount:…``) so
that one id names one entity. Statuses are TMF's ``ProductStatusType``: a contract on hold is
``created``, deactivated ``terminated``; a removed service or discount ``terminated``.

This module is pure: documents in, documents (or request payloads) out; no store, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from adapter.domain.errors import ValidationFailed, Violation
from adapter.queries.inventory import Holdings

PRODUCT_PATH = "/tmf-api/productInventory/v4/product"
CUSTOMER_PATH = "/tmf-api/customerManagement/v4/customer"
BILLING_ACCOUNT_PATH = "/tmf-api/accountManagement/v4/billingAccount"

CONTRACT_TYPE = "SubscriptionProduct"
SERVICE_TYPE = "ServiceProduct"
DISCOUNT_TYPE = "DiscountProduct"
PRODUCT_TYPES = {"contract": CONTRACT_TYPE, "service": SERVICE_TYPE, "discount": DISCOUNT_TYPE}
KIND_OF_TYPE = {v: k for k, v in PRODUCT_TYPES.items()}

CONTRACT_STATUS = {
    "on_hold": "created",
    "active": "active",
    "suspended": "suspended",
    "deactivated": "terminated",
}
SERVICE_STATUS = {"active": "active", "suspended": "suspended", "deactivated": "terminated"}
DISCOUNT_STATUS = {"active": "active", "removed": "terminated"}

# ---------------------------------------------------------------------------- shared bits


def number(value: Any) -> int | float | None:
    """A stored decimal (text in snapshots) as a JSON number: an int when it is whole."""
    if value is None:
        return None
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        return None
    if exact == exact.to_integral_value():
        return int(exact)
    return float(exact)


def day_start(value: str | date | None) -> str | None:
    """A date as the date-time TMF wants: its start, in UTC."""
    if value is None:
        return None
    return f"{date.fromisoformat(str(value)).isoformat()}T00:00:00Z"


def day_end(value: str | date | None) -> str | None:
    if value is None:
        return None
    return f"{date.fromisoformat(str(value)).isoformat()}T23:59:59Z"


def moment(value: str | datetime | None) -> str | None:
    """A stored instant as ISO 8601 with ``Z``."""
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text.replace("+00:00", "Z")


def ref(
    base: str, path: str, entity_id: str, referred: str, name: str | None = None
) -> dict[str, Any]:
    """A TMF ``…Ref``: id, href, optional name, ``@referredType``."""
    found: dict[str, Any] = {"id": entity_id, "href": f"{base}{path}/{entity_id}"}
    if name is not None:
        found["name"] = name
    found["@referredType"] = referred
    return found


def customer_party(base: str, customer_id: str) -> list[dict[str, Any]]:
    return [{**ref(base, CUSTOMER_PATH, customer_id, "Customer"), "role": "customer"}]


def billing_account(base: str, account_id: str, number_: str | None) -> dict[str, Any]:
    return ref(base, BILLING_ACCOUNT_PATH, account_id, "BillingAccount", number_)


def product_id(kind: str, entity_id: str) -> str:
    return f"{kind}:{entity_id}"


def product_ref(base: str, kind: str, entity_id: str, name: str | None = None) -> dict[str, Any]:
    return ref(base, PRODUCT_PATH, product_id(kind, entity_id), "Product", name)


def parse_product_id(value: str) -> tuple[str, str]:
    """(kind, canonical id) of a product id; ValidationFailed naming the form otherwise."""
    kind, sep, entity_id = value.partition(":")
    if not sep or kind not in PRODUCT_TYPES or not entity_id:
        raise ValidationFailed.one(
            "id",
            "format",
            "a product id is contract:<id>, service:<id> or discount:<id>",
        )
    return kind, entity_id


def characteristic(name: str, value: Any, value_type: str = "string") -> dict[str, Any]:
    return {"name": name, "valueType": value_type, "value": value}


def _present(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in items if c["value"] is not None]


# ------------------------------------------------------------------------------- to TMF


@dataclass(frozen=True)
class Context:
    """What a mapping needs besides the entity: the server's base URL, account numbers by
    id, subscribers by id and the products bundled in each contract."""

    base: str
    account_numbers: Mapping[str, str]
    subscribers: Mapping[str, Mapping[str, Any]]
    bundled: Mapping[str, list[dict[str, Any]]]


def _status_moment(contract: Mapping[str, Any], status: str, first: bool) -> str | None:
    moments = [c["at"] for c in contract.get("status_history", []) if c["status"] == status]
    if not moments:
        return None
    return moment(moments[0] if first else moments[-1])


def contract_product(
    contract: Mapping[str, Any], subscriber: Mapping[str, Any] | None, ctx: Context
) -> dict[str, Any]:
    """A contract with its subscriber as a bundle product."""
    sim = subscriber or {}
    return {
        "id": product_id("contract", contract["id"]),
        "href": f"{ctx.base}{PRODUCT_PATH}/{product_id('contract', contract['id'])}",
        "@type": CONTRACT_TYPE,
        "@baseType": "Product",
        "name": f"{contract['rate_plan']} {sim.get('msisdn', contract['number'])}",
        "description": f"contract {contract['number']} on rate plan {contract['rate_plan']}",
        "productSerialNumber": contract["number"],
        "isBundle": True,
        "isCustomerVisible": True,
        "status": CONTRACT_STATUS[contract["status"]],
        "startDate": _status_moment(contract, "active", first=True),
        "terminationDate": _status_moment(contract, "deactivated", first=False),
        "productSpecification": ref(
            ctx.base,
            "/tmf-api/productCatalogManagement/v4/productSpecification",
            contract["rate_plan"],
            "ProductSpecification",
            contract["rate_plan"],
        ),
        "productCharacteristic": _present(
            [
                characteristic("contractNumber", contract["number"]),
                characteristic("ratePlan", contract["rate_plan"]),
                characteristic("salesApplicationNumber", contract.get("sales_application_number")),
                characteristic("msisdn", sim.get("msisdn")),
                characteristic("imsi", sim.get("imsi")),
                characteristic("iccid", sim.get("iccid")),
                characteristic("subscriberId", sim.get("id")),
                characteristic("subscriberStatus", sim.get("status")),
            ]
        ),
        "product": list(ctx.bundled.get(contract["id"], [])),
        "productRelationship": [],
        "billingAccount": billing_account(
            ctx.base, contract["account_id"], ctx.account_numbers.get(contract["account_id"])
        ),
        "relatedParty": customer_party(ctx.base, contract["customer_id"]),
    }


def _limit_value(limit: Mapping[str, Any]) -> dict[str, Any]:
    return {"amount": number(limit["value"]), "units": limit["unit"]}


def service_product(service: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """A service assignment with its parameters and limits."""
    sim = ctx.subscribers.get(service.get("subscriber_id") or "")
    chars = [characteristic(k, v) for k, v in sorted(service.get("parameters", {}).items())]
    chars += [
        characteristic(limit["name"], _limit_value(limit), "quantity")
        for limit in service.get("limits", [])
    ]
    if sim is not None:
        chars.append(characteristic("subscriber", sim["msisdn"], "msisdn"))
    return {
        "id": product_id("service", service["id"]),
        "href": f"{ctx.base}{PRODUCT_PATH}/{product_id('service', service['id'])}",
        "@type": SERVICE_TYPE,
        "@baseType": "Product",
        "name": service["service_code"],
        "isBundle": False,
        "isCustomerVisible": True,
        "status": SERVICE_STATUS[service["status"]],
        "startDate": day_start(service.get("valid_from")),
        "terminationDate": day_end(service.get("valid_to")),
        "productSpecification": ref(
            ctx.base,
            "/tmf-api/productCatalogManagement/v4/productSpecification",
            service["service_code"],
            "ProductSpecification",
            service["service_code"],
        ),
        "productCharacteristic": chars,
        "productRelationship": [
            {
                "relationshipType": "bundledIn",
                "product": product_ref(ctx.base, "contract", service["contract_id"]),
            }
        ],
        "billingAccount": billing_account(
            ctx.base, service["account_id"], ctx.account_numbers.get(service["account_id"])
        ),
        "relatedParty": customer_party(ctx.base, service["customer_id"]),
    }


def _alteration_price(discount: Mapping[str, Any]) -> dict[str, Any]:
    if discount.get("value_type", "percent") == "percent":
        return {"percentage": number(discount["value"])}
    return {
        "taxIncludedAmount": {"unit": discount.get("currency"), "value": number(discount["value"])}
    }


def discount_product(discount: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """A discount or promotion assignment as a product whose price is an alteration."""
    relationships: list[dict[str, Any]] = []
    if discount.get("contract_id"):
        relationships.append(
            {
                "relationshipType": "appliesTo",
                "product": product_ref(ctx.base, "contract", discount["contract_id"]),
            }
        )
    chars = [
        characteristic("discountKind", discount.get("discount_kind", "discount")),
        characteristic("level", discount["level"]),
        characteristic("inherited", bool(discount.get("inherited", True)), "boolean"),
    ]
    sim = ctx.subscribers.get(discount.get("subscriber_id") or "")
    if sim is not None:
        chars.append(characteristic("subscriber", sim["msisdn"], "msisdn"))
    kind = discount.get("discount_kind", "discount")
    return {
        "id": product_id("discount", discount["id"]),
        "href": f"{ctx.base}{PRODUCT_PATH}/{product_id('discount', discount['id'])}",
        "@type": DISCOUNT_TYPE,
        "@baseType": "Product",
        "name": discount["code"],
        "isBundle": False,
        "isCustomerVisible": True,
        "status": DISCOUNT_STATUS[discount["status"]],
        "startDate": day_start(discount.get("valid_from")),
        "terminationDate": day_end(discount.get("valid_to")),
        "productSpecification": ref(
            ctx.base,
            "/tmf-api/productCatalogManagement/v4/productSpecification",
            discount["code"],
            "ProductSpecification",
            discount["code"],
        ),
        "productCharacteristic": chars,
        "productPrice": [
            {
                "name": discount["code"],
                "priceType": "recurring",
                "productPriceAlteration": [
                    {
                        "name": discount["code"],
                        "priceType": kind,
                        "price": _alteration_price(discount),
                    }
                ],
            }
        ],
        "productRelationship": relationships,
        "billingAccount": billing_account(
            ctx.base, discount["account_id"], ctx.account_numbers.get(discount["account_id"])
        ),
        "relatedParty": customer_party(ctx.base, discount["customer_id"]),
    }


# ----------------------------------------------------------------------------- from TMF


def _fail(field: str, rule: str, message: str) -> ValidationFailed:
    return ValidationFailed.one(field, rule, message)


def _mapping(body: Mapping[str, Any], name: str, required: bool = True) -> Mapping[str, Any]:
    value = body.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(name, "type", f"{name} must be an object")
    return value


def _ref_id(body: Mapping[str, Any], name: str) -> str:
    value = _mapping(body, name).get("id")
    if not isinstance(value, str) or not value:
        raise _fail(f"{name}.id", "missing", f"{name}.id is required")
    return value


def characteristics(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``productCharacteristic`` checked: a list of objects with a unique string ``name``."""
    raw = body.get("productCharacteristic", [])
    if not isinstance(raw, list):
        raise _fail("productCharacteristic", "type", "productCharacteristic must be a list")
    seen: set[tuple[str, str]] = set()
    found: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise _fail(f"productCharacteristic.{i}", "type", "a characteristic is an object")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"productCharacteristic.{i}.name", "missing", "a characteristic has a name")
        key = (name, str(item.get("valueType", "string")))
        if key in seen:
            raise _fail(f"productCharacteristic.{name}", "unique", f"{name} is given twice")
        seen.add(key)
        found.append(dict(item))
    return found


def _char_values(chars: list[dict[str, Any]], known: Mapping[str, str]) -> dict[str, Any]:
    """Characteristic values by name, each a string; an unknown name is refused by name."""
    values: dict[str, Any] = {}
    for item in chars:
        name = item["name"]
        if name not in known:
            raise _fail(
                f"productCharacteristic.{name}",
                "known",
                f"{name} is not a characteristic here; known: {', '.join(known)}",
            )
        value = item.get("value")
        if value is not None and not isinstance(value, str):
            raise _fail(f"productCharacteristic.{name}", "type", f"{name} takes a string value")
        values[known[name]] = value
    return values


CONTRACT_CHARACTERISTICS = {
    "contractNumber": "number",
    "ratePlan": "rate_plan",
    "salesApplicationNumber": "sales_application_number",
    "msisdn": "msisdn",
    "imsi": "imsi",
    "iccid": "iccid",
}


def contract_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``contract.create`` payload of a POSTed SubscriptionProduct: ``billingAccount.id``
    (id or number), the rate plan as ``productSpecification.id`` (or the ``ratePlan``
    characteristic), ``contractNumber`` and ``msisdn`` (``imsi``, ``iccid``,
    ``salesApplicationNumber`` optional) as characteristics, ``status`` created or active."""
    values = _char_values(characteristics(body), CONTRACT_CHARACTERISTICS)
    spec = _mapping(body, "productSpecification", required=False).get("id")
    rate_plan = values.pop("rate_plan", None) or spec
    if not rate_plan:
        raise _fail(
            "productSpecification.id", "missing", "the rate plan is productSpecification.id"
        )
    status = body.get("status", "created")
    if status not in ("created", "active"):
        raise _fail("status", "choice", "a new subscription is created (on hold) or active")
    for needed in ("number", "msisdn"):
        if not values.get(needed):
            name = next(k for k, v in CONTRACT_CHARACTERISTICS.items() if v == needed)
            raise _fail(
                f"productCharacteristic.{name}", "missing", f"the characteristic {name} is required"
            )
    payload: dict[str, Any] = {
        "account": _ref_id(body, "billingAccount"),
        "number": values["number"],
        "rate_plan": rate_plan,
        "status": "active" if status == "active" else "on_hold",
        "subscriber": {
            k: values[k] for k in ("msisdn", "imsi", "iccid") if values.get(k) is not None
        },
    }
    if values.get("sales_application_number"):
        payload["sales_application_number"] = values["sales_application_number"]
    return payload


def related_contract(body: Mapping[str, Any], relationship: str) -> str:
    """The canonical id of the contract product a new product is related to."""
    raw = body.get("productRelationship", [])
    if not isinstance(raw, list):
        raise _fail("productRelationship", "type", "productRelationship must be a list")
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("product"), Mapping):
            raise _fail("productRelationship", "type", "each relationship has a product ref")
        target = item["product"].get("id")
        if item.get("relationshipType") == relationship and isinstance(target, str):
            kind, entity_id = parse_product_id(target)
            if kind != "contract":
                raise _fail(
                    "productRelationship.product.id",
                    "kind",
                    f"{relationship} names a subscription (contract:<id>) product",
                )
            return entity_id
    raise _fail(
        "productRelationship",
        "missing",
        f"a productRelationship {relationship!r} to a subscription product is required",
    )


def _decimal(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _fail(field, "type", f"{field} must be a number")
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        raise _fail(field, "type", f"{field} must be a number") from None
    if not exact.is_finite():
        raise _fail(field, "type", f"{field} must be a finite number")
    return str(exact)


def service_settings(chars: list[dict[str, Any]]) -> dict[str, Any]:
    """Parameters (``valueType`` string, the default), limits (``quantity``:
    ``{"amount", "units"}``) and the ``subscriber`` (``msisdn``) of service characteristics."""
    parameters: dict[str, str] = {}
    limits: list[dict[str, Any]] = []
    subscriber: str | None = None
    for item in chars:
        name = item["name"]
        value_type = item.get("valueType", "string")
        value = item.get("value")
        field = f"productCharacteristic.{name}"
        if value_type == "quantity":
            if not isinstance(value, Mapping) or "amount" not in value or "units" not in value:
                raise _fail(field, "type", f"{name}: a quantity is {{amount, units}}")
            limits.append(
                {
                    "name": name,
                    "value": _decimal(value["amount"], f"{field}.amount"),
                    "unit": str(value["units"]),
                }
            )
        elif value_type == "msisdn" and name == "subscriber":
            if not isinstance(value, str):
                raise _fail(field, "type", "subscriber is the MSISDN of a subscriber")
            subscriber = value
        elif value_type == "string":
            if not isinstance(value, str):
                raise _fail(field, "type", f"{name}: a parameter value is a string")
            parameters[name] = value
        else:
            raise _fail(
                f"{field}.valueType",
                "choice",
                "a service characteristic is a string parameter, a quantity limit or the "
                "subscriber (msisdn)",
            )
    return {"parameters": parameters, "limits": limits, "subscriber": subscriber}


def _tmf_date(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(name, "type", f"{name} must be a date or date-time")
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise _fail(name, "format", f"{name} must be a date or date-time") from None


def service_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``service.add`` payload of a POSTed ServiceProduct: the service code as
    ``productSpecification.id`` (or ``name``), a ``bundledIn`` relationship to its contract
    product, parameters and limits as characteristics, ``status`` active or suspended."""
    code = _mapping(body, "productSpecification", required=False).get("id") or body.get("name")
    if not isinstance(code, str) or not code:
        raise _fail(
            "productSpecification.id", "missing", "the service code is productSpecification.id"
        )
    status = body.get("status", "active")
    if status not in ("active", "suspended"):
        raise _fail("status", "choice", "a new service is active or suspended")
    settings = service_settings(characteristics(body))
    payload: dict[str, Any] = {
        "contract": related_contract(body, "bundledIn"),
        "service_code": code,
        "status": status,
        "parameters": settings["parameters"],
        "limits": settings["limits"],
    }
    if settings["subscriber"] is not None:
        payload["subscriber"] = settings["subscriber"]
    for tmf_name, name in (("startDate", "valid_from"), ("terminationDate", "valid_to")):
        value = _tmf_date(body, tmf_name)
        if value is not None:
            payload[name] = value
    return payload


DISCOUNT_CHARACTERISTICS = {
    "discountKind": "discount_kind",
    "level": "level",
    "inherited": "inherited",
    "subscriber": "subscriber",
}


def _alteration(body: Mapping[str, Any]) -> Mapping[str, Any]:
    prices = body.get("productPrice")
    if isinstance(prices, list):
        for price in prices:
            alterations = (
                price.get("productPriceAlteration") if isinstance(price, Mapping) else None
            )
            if (
                isinstance(alterations, list)
                and alterations
                and isinstance(alterations[0], Mapping)
            ):
                return alterations[0]
    raise _fail(
        "productPrice",
        "missing",
        "a discount's value is productPrice[0].productPriceAlteration[0].price",
    )


def discount_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``discount.assign`` payload of a POSTed DiscountProduct: the code as
    ``productSpecification.id`` (or ``name``), the value as a price alteration
    (``price.percentage``, or ``price.taxIncludedAmount {unit, value}``), the kind as its
    ``priceType`` (discount, promotion), and the target: ``level`` (characteristic; default
    contract when an ``appliesTo`` relationship is given, else account) with the contract
    product (``appliesTo``), the ``subscriber`` characteristic (MSISDN) or
    ``billingAccount.id``."""
    code = _mapping(body, "productSpecification", required=False).get("id") or body.get("name")
    if not isinstance(code, str) or not code:
        raise _fail(
            "productSpecification.id", "missing", "the discount code is productSpecification.id"
        )
    chars = characteristics(body)
    for item in chars:
        if item["name"] == "inherited" and isinstance(item.get("value"), bool):
            item["value"] = "true" if item["value"] else "false"
    values = _char_values(chars, DISCOUNT_CHARACTERISTICS)
    alteration = _alteration(body)
    kind = alteration.get("priceType", values.get("discount_kind") or "discount")
    if kind not in ("discount", "promotion"):
        raise _fail(
            "productPrice.productPriceAlteration.priceType", "choice", "discount or promotion"
        )
    price = alteration.get("price")
    if not isinstance(price, Mapping):
        raise _fail("productPrice.productPriceAlteration.price", "missing", "the price is required")
    payload: dict[str, Any] = {"code": code, "discount_kind": kind}
    field = "productPrice.productPriceAlteration.price"
    if price.get("percentage") is not None:
        payload |= {
            "value": _decimal(price["percentage"], f"{field}.percentage"),
            "value_type": "percent",
        }
    elif isinstance(price.get("taxIncludedAmount"), Mapping):
        money = price["taxIncludedAmount"]
        payload |= {
            "value": _decimal(money.get("value"), f"{field}.taxIncludedAmount.value"),
            "value_type": "amount",
            "currency": money.get("unit"),
        }
    else:
        raise _fail(field, "missing", "give price.percentage or price.taxIncludedAmount")
    has_contract = any(
        isinstance(r, Mapping) and r.get("relationshipType") == "appliesTo"
        for r in body.get("productRelationship", []) or []
    )
    level = values.get("level") or (
        "subscriber" if values.get("subscriber") else "contract" if has_contract else "account"
    )
    payload["level"] = level
    if level == "contract":
        payload["contract"] = related_contract(body, "appliesTo")
    elif level == "subscriber":
        if not values.get("subscriber"):
            raise _fail(
                "productCharacteristic.subscriber",
                "missing",
                "a subscriber-level discount names its MSISDN",
            )
        payload["subscriber"] = values["subscriber"]
    elif level == "account":
        payload["account"] = _ref_id(body, "billingAccount")
    else:
        raise _fail(
            "productCharacteristic.level", "choice", "level is account, contract or subscriber"
        )
    if values.get("inherited") is not None:
        if values["inherited"] not in ("true", "false"):
            raise _fail("productCharacteristic.inherited", "type", "inherited is true or false")
        payload["inherited"] = values["inherited"] == "true"
    for tmf_name, name in (("startDate", "valid_from"), ("terminationDate", "valid_to")):
        value = _tmf_date(body, tmf_name)
        if value is not None:
            payload[name] = value
    return payload


# ------------------------------------------------------------------------- PATCH → requests


@dataclass(frozen=True)
class Write:
    """One request a PATCH or DELETE becomes: its operation and payload."""

    operation: str
    payload: dict[str, Any]


CONTRACT_ACTION_OF = {
    ("created", "active"): "activate",
    ("suspended", "active"): "reactivate",
    ("active", "suspended"): "suspend",
}


def changed(current: Mapping[str, Any], merged: Mapping[str, Any]) -> set[str]:
    """The top-level attributes a merge patch changes."""
    keys = set(current) | set(merged)
    return {k for k in keys if current.get(k) != merged.get(k)}


def _refuse_others(changes: set[str], allowed: set[str], what: str) -> None:
    others = sorted(changes - allowed)
    if others:
        raise ValidationFailed(
            [
                Violation(
                    name,
                    "changeable",
                    f"{what}: only {', '.join(sorted(allowed))} can change",
                )
                for name in others
            ]
        )


def contract_patch(
    contract_id: str, current: Mapping[str, Any], merged: Mapping[str, Any]
) -> Write | None:
    """``status`` is the only attribute of a subscription that changes here: created or
    suspended → active, active → suspended, any → terminated (deactivation)."""
    changes = changed(current, merged)
    _refuse_others(changes, {"status"}, "a subscription product")
    if not changes:
        return None
    old, new = current["status"], merged.get("status")
    action = "deactivate" if new == "terminated" else CONTRACT_ACTION_OF.get((old, str(new)))
    if action is None:
        raise ValidationFailed.one(
            "status",
            "transition",
            f"a subscription cannot go from {old} to {new}; created→active, active⇄suspended, "
            "any→terminated",
        )
    return Write("contract.change_status", {"contract": contract_id, "action": action})


def service_patch(
    service_id: str, current: Mapping[str, Any], merged: Mapping[str, Any]
) -> Write | None:
    """``status`` (active, suspended; terminated removes the service), the characteristics
    (parameters and limits, replaced whole) and ``terminationDate``."""
    changes = changed(current, merged)
    _refuse_others(
        changes, {"status", "productCharacteristic", "terminationDate"}, "a service product"
    )
    if not changes:
        return None
    if merged.get("status") == "terminated":
        payload: dict[str, Any] = {"service_id": service_id}
        end = _tmf_date(merged, "terminationDate")
        if end is not None:
            payload["valid_to"] = end
        _refuse_others(changes, {"status", "terminationDate"}, "a service being terminated")
        return Write("service.remove", payload)
    payload = {"service_id": service_id}
    if "status" in changes:
        if merged.get("status") not in ("active", "suspended"):
            raise ValidationFailed.one(
                "status", "choice", "a service is active, suspended or terminated"
            )
        payload["status"] = merged["status"]
    if "productCharacteristic" in changes:
        settings = service_settings(characteristics(merged))
        before = service_settings(characteristics(current))
        if settings["subscriber"] != before["subscriber"]:
            raise ValidationFailed.one(
                "productCharacteristic.subscriber",
                "changeable",
                "a service does not move to another subscriber: terminate it and add another",
            )
        payload["parameters"] = settings["parameters"]
        payload["limits"] = settings["limits"]
    if "terminationDate" in changes:
        end = _tmf_date(merged, "terminationDate")
        if end is None:
            raise ValidationFailed.one(
                "terminationDate", "changeable", "terminationDate cannot be cleared"
            )
        payload["valid_to"] = end
    return Write("service.change", payload)


def discount_patch(
    discount_id: str, current: Mapping[str, Any], merged: Mapping[str, Any]
) -> Write | None:
    """A discount changes only by ending: ``status`` terminated removes it."""
    changes = changed(current, merged)
    _refuse_others(changes, {"status"}, "a discount product")
    if not changes:
        return None
    if merged.get("status") != "terminated":
        raise ValidationFailed.one(
            "status", "choice", "a discount's status changes only to terminated"
        )
    return Write("discount.remove", {"discount_id": discount_id})


# ------------------------------------------------------------------------ a customer's all


def products_of(holdings: Holdings, base: str) -> list[dict[str, Any]]:
    """Every product of one customer: subscriptions, then services, then discounts."""
    subscribers = {s["id"]: s for s in holdings.subscribers}
    first_sim: dict[str, dict[str, Any]] = {}
    for sim in sorted(holdings.subscribers, key=lambda s: s["status"] == "deactivated"):
        first_sim.setdefault(sim["contract_id"], sim)
    bundled: dict[str, list[dict[str, Any]]] = {}
    for service in holdings.services:
        bundled.setdefault(service["contract_id"], []).append(
            product_ref(base, "service", service["id"], service["service_code"])
        )
    for discount in holdings.discounts:
        if discount.get("contract_id"):
            bundled.setdefault(discount["contract_id"], []).append(
                product_ref(base, "discount", discount["id"], discount["code"])
            )
    ctx = Context(base, holdings.account_numbers, subscribers, bundled)
    return [
        *(contract_product(c, first_sim.get(c["id"]), ctx) for c in holdings.contracts),
        *(service_product(s, ctx) for s in holdings.services),
        *(discount_product(d, ctx) for d in holdings.discounts),
    ]
