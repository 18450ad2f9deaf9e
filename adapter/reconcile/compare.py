"""Comparing the canonical store with billing's view of one customer: pure functions.

Each function takes canonical entities and what a CIL read gave back through ``mappings/``
(canonical terms), and returns the differences as :class:`Drift`\\ s. Only what billing
carries is compared: of a node, the party's names, its status (the stricter of the customer's
and the account's, as the sync sends it), payment responsibility and parent; of a contract,
its status and rate plan; of a contract's services, which are there and their status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adapter.domain.model import (
    Account,
    Contract,
    ContractStatus,
    Customer,
    ServiceAssignment,
    ServiceStatus,
)

# The status the sync gives a node; one rule for both (a private helper of the push).
from adapter.legacy.push import _node_status as node_status

MISSING = "missing_in_billing"
FIELD = "field_mismatch"
STATUS = "status_mismatch"
UNKNOWN = "unknown_in_billing"
KINDS = (MISSING, FIELD, STATUS, UNKNOWN)
WHOLE = "(entity)"  # the field of a finding about a whole entity

# Party fields billing keeps (CIL CustomerData), per party kind.
PARTY_FIELDS = {"individual": ("given_name", "family_name"), "organization": ("name",)}


@dataclass(frozen=True)
class Drift:
    """One difference: the canonical entity (none when only billing has it), billing's id,
    the field, both values and the kind of drift."""

    customer_id: str
    entity_kind: str
    entity_id: str | None
    legacy_id: str | None
    field: str
    crm_value: Any
    billing_value: Any
    kind: str

    def key(self) -> tuple[str, str | None, str | None, str, str]:
        """What makes two runs' findings the same drift."""
        return (self.entity_kind, self.entity_id, self.legacy_id, self.field, self.kind)


def compare_node(
    customer: Customer,
    account: Account,
    parent_number: str | None,
    read: Mapping[str, Any] | None,
    legacy_id: str | None,
) -> list[Drift]:
    """A node (``read``: CustomerRead's result, None when billing has no such node)."""

    def drift(kind: str, field: str, crm: Any, billing: Any, entity: str = "account") -> Drift:
        if entity == "customer":  # the same on every node: one finding, not one per node
            return Drift(customer.id, entity, customer.id, None, field, crm, billing, kind)
        return Drift(customer.id, entity, account.id, legacy_id, field, crm, billing, kind)

    if read is None:
        return [drift(MISSING, WHOLE, account.number, None)]
    found: list[Drift] = []
    party = customer.party.model_dump(mode="json")
    billing_party = (read.get("customer") or {}).get("party") or {}
    for name in PARTY_FIELDS.get(str(party.get("kind")), ()):
        if party.get(name) != billing_party.get(name):
            found.append(
                drift(FIELD, f"party.{name}", party.get(name), billing_party.get(name), "customer")
            )
    expected = node_status(customer, account).value
    status = (read.get("customer") or {}).get("status")
    if status != expected:
        found.append(drift(STATUS, "status", expected, status))
    pays = (read.get("account") or {}).get("payment_responsible")
    if pays != account.payment_responsible:
        found.append(drift(FIELD, "payment_responsible", account.payment_responsible, pays))
    parent = (read.get("parent_account") or {}).get("number")
    if parent != parent_number:
        found.append(drift(FIELD, "parent_id", parent_number, parent))
    return found


def compare_contract(
    contract: Contract, read: Mapping[str, Any] | None, legacy_id: str | None
) -> list[Drift]:
    """A contract (``read``: ContractRead's result, None when billing has no such contract)."""

    def drift(kind: str, field: str, crm: Any, billing: Any) -> Drift:
        return Drift(
            contract.customer_id, "contract", contract.id, legacy_id, field, crm, billing, kind
        )

    if read is None:
        return [drift(MISSING, WHOLE, contract.number, None)]
    found: list[Drift] = []
    billing = read.get("contract") or {}
    if billing.get("status") != contract.status.value:
        found.append(drift(STATUS, "status", contract.status.value, billing.get("status")))
    rate_plan = billing.get("rate_plan")
    # BSCS rate plan codes are upper case (tmCode); the CRM keeps the code as given.
    if str(rate_plan or "").upper() != contract.rate_plan.upper():
        found.append(drift(FIELD, "rate_plan", contract.rate_plan, rate_plan))
    return found


def compare_services(
    contract: Contract,
    services: Iterable[ServiceAssignment],
    read: Mapping[str, Any],
    legacy_ids: Mapping[str, str],
) -> list[Drift]:
    """A contract's services (``read``: ContractServicesRead's result). Deactivated services
    count on neither side; a deactivated contract's services are not compared (billing changes
    nothing on it)."""
    if contract.status is ContractStatus.DEACTIVATED:
        return []
    live = {
        s.service_code.upper(): s for s in services if s.status is not ServiceStatus.DEACTIVATED
    }
    sn_codes = {
        str(i.get("service_code", "")).upper(): i.get("sn_code")
        for i in (read.get("legacy_ids") or {}).get("services", [])
    }
    in_billing = {
        str(s.get("service_code", "")).upper(): s
        for s in read.get("services", [])
        if s.get("status") != ServiceStatus.DEACTIVATED.value
    }
    found: list[Drift] = []
    for code, service in sorted(live.items()):
        legacy = legacy_ids.get(service.id) or _text(sn_codes.get(code))
        billing = in_billing.get(code)
        if billing is None:
            found.append(
                Drift(
                    contract.customer_id,
                    "service_assignment",
                    service.id,
                    legacy,
                    WHOLE,
                    f"{contract.number}/{service.service_code}",
                    None,
                    MISSING,
                )
            )
        elif billing.get("status") != service.status.value:
            found.append(
                Drift(
                    contract.customer_id,
                    "service_assignment",
                    service.id,
                    legacy,
                    "status",
                    service.status.value,
                    billing.get("status"),
                    STATUS,
                )
            )
    for code in sorted(set(in_billing) - set(live)):
        found.append(
            Drift(
                contract.customer_id,
                "service_assignment",
                None,
                _text(sn_codes.get(code)),
                "service_code",
                None,
                f"{contract.number}/{code}",
                UNKNOWN,
            )
        )
    return found


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def unique(drifts: Iterable[Drift]) -> list[Drift]:
    """Drifts without repeats (a customer's names differ on every node: one finding)."""
    seen: dict[tuple[str, str | None, str | None, str, str], Drift] = {}
    for d in drifts:
        seen.setdefault(d.key(), d)
    return list(seen.values())
