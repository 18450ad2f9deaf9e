"""Handlers for what a contract is sold with: services (with parameters and limits) and
discount or promotion assignments."""

from __future__ import annotations

from datetime import date
from typing import Any

from adapter.domain.errors import Conflict, NotFound, ValidationFailed
from adapter.domain.model import (
    Account,
    AssignmentLevel,
    Contract,
    ContractStatus,
    DiscountAssignment,
    ServiceAssignment,
    ServiceStatus,
    Subscriber,
)
from adapter.domain.validation import parse, validating
from adapter.store.uow import UnitOfWork


def _live_contract(uow: UnitOfWork, contract_id: str, what: str) -> Contract:
    contract = uow.get(Contract, contract_id)
    if contract.status is ContractStatus.DEACTIVATED:
        raise Conflict(f"contract {contract.number} is deactivated; {what}")
    return contract


# ------------------------------------------------------------------------------- services


def add_service(
    uow: UnitOfWork, contract_id: str, subscriber_id: str | None, data: dict[str, Any]
) -> ServiceAssignment:
    """A service on a contract (or on one of its subscribers). A service code may be on a
    contract once unless deactivated, as in billing."""
    contract = _live_contract(uow, contract_id, "it takes no new service")
    if subscriber_id is not None:
        sim = uow.get(Subscriber, subscriber_id)
        if sim.contract_id != contract.id:
            raise ValidationFailed.one(
                "subscriber",
                "consistent",
                f"subscriber {sim.msisdn} is not on contract {contract.number}",
            )
    service = parse(
        ServiceAssignment,
        {
            **data,
            "customer_id": contract.customer_id,
            "account_id": contract.account_id,
            "contract_id": contract.id,
            "subscriber_id": subscriber_id,
        },
    )
    taken = _live_service(uow, contract.id, service.service_code)
    if taken is not None:
        raise Conflict(
            f"service {service.service_code} is already on contract {contract.number} "
            f"(service {taken.id})"
        )
    uow.add(service)
    return service


def _live_service(uow: UnitOfWork, contract_id: str, code: str) -> ServiceAssignment | None:
    return next(
        (
            s
            for s in uow.find_by(ServiceAssignment, contract_id=contract_id, service_code=code)
            if s.status is not ServiceStatus.DEACTIVATED
        ),
        None,
    )


def find_service(uow: UnitOfWork, contract_id: str, code: str) -> ServiceAssignment:
    """The service of ``code`` on a contract that is not deactivated."""
    found = _live_service(uow, contract_id, code)
    if found is None:
        number = uow.get(Contract, contract_id).number
        raise NotFound("service", f"{code} on contract {number}")
    return found


def change_service(
    uow: UnitOfWork,
    service_id: str,
    changes: dict[str, Any],
    expected_version: int | None = None,
) -> ServiceAssignment:
    """Change a service's ``status`` (active, suspended), ``parameters``, ``limits`` or
    ``valid_to``; lists and maps given replace the old ones whole. A deactivated service
    cannot change."""
    service = uow.get(ServiceAssignment, service_id)
    uow.expect_version(service, expected_version)
    if service.status is ServiceStatus.DEACTIVATED:
        raise Conflict(f"service {service.service_code} ({service.id}) is deactivated")
    _live_contract(uow, service.contract_id, "its services cannot change")
    allowed = {"status", "parameters", "limits", "valid_to"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed.one(
            sorted(unknown)[0], "changeable", f"a service changes only {', '.join(sorted(allowed))}"
        )
    if changes.get("status") == ServiceStatus.DEACTIVATED.value:
        raise ValidationFailed.one("status", "changeable", "remove the service to deactivate it")
    with validating():
        for name, value in changes.items():
            setattr(service, name, value)
    return service


def remove_service(
    uow: UnitOfWork,
    service_id: str,
    valid_to: date | None = None,
    expected_version: int | None = None,
) -> ServiceAssignment:
    """Deactivate a service; it stays in the record (and in billing) as deactivated, valid
    until ``valid_to`` (default: the day it is removed)."""
    service = uow.get(ServiceAssignment, service_id)
    uow.expect_version(service, expected_version)
    if service.status is ServiceStatus.DEACTIVATED:
        raise Conflict(f"service {service.service_code} ({service.id}) is already removed")
    end = valid_to or uow.now().date()
    if service.valid_from is not None and end < service.valid_from:
        end = service.valid_from  # removed before it started: valid for no day after it
    with validating():
        service.status = ServiceStatus.DEACTIVATED
        service.valid_to = end
    return service


# ------------------------------------------------------------------------------ discounts


def assign_discount(
    uow: UnitOfWork, level: AssignmentLevel, target_id: str, data: dict[str, Any]
) -> DiscountAssignment:
    """A discount or promotion on an account (inherited by its subtree when ``inherited``),
    a contract or a subscriber (``target_id`` is of the kind ``level`` names)."""
    scope: dict[str, Any]
    if level is AssignmentLevel.ACCOUNT:
        account = uow.get(Account, target_id)
        if account.status == "closed":
            raise Conflict(f"account {account.number} is closed")
        scope = {"customer_id": account.customer_id, "account_id": account.id}
    elif level is AssignmentLevel.CONTRACT:
        contract = _live_contract(uow, target_id, "it takes no discount")
        scope = {
            "customer_id": contract.customer_id,
            "account_id": contract.account_id,
            "contract_id": contract.id,
        }
    else:
        sim = uow.get(Subscriber, target_id)
        _live_contract(uow, sim.contract_id, "its subscriber takes no discount")
        scope = {
            "customer_id": sim.customer_id,
            "account_id": sim.account_id,
            "contract_id": sim.contract_id,
            "subscriber_id": sim.id,
        }
    assignment = parse(DiscountAssignment, {**data, **scope, "level": level.value})
    uow.add(assignment)
    return assignment


def remove_discount(
    uow: UnitOfWork, discount_id: str, expected_version: int | None = None
) -> DiscountAssignment:
    """Remove a discount or promotion assignment: it stays in the record, as removed."""
    assignment = uow.get(DiscountAssignment, discount_id)
    uow.expect_version(assignment, expected_version)
    if assignment.status == "removed":
        raise Conflict(
            f"{assignment.discount_kind} {assignment.code} ({assignment.id}) is already removed"
        )
    assignment.status = "removed"
    return assignment
