"""One handler per request operation, registered in :data:`HANDLERS`.

A handler takes the open unit of work and the operation's command (the validated payload),
turns the references it gives (numbers, MSISDNs) into ids, calls the service layer
(``adapter/service``) and returns a small result: the ids of what it created or changed. It
does not commit; :func:`adapter.requests.apply.apply_request` does, once, with the request's
actor. Where the command names an entity that changes, the handler checks the envelope's
``expected_version`` against it (``command.expected_version``) before anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapter.domain import ENTITY_KINDS
from adapter.domain.errors import ConcurrencyConflict, NotFound
from adapter.domain.model import (
    AssignmentLevel,
    ServiceAssignment,
    Subscriber,
    SubscriberStatus,
    SuppressionScope,
)
from adapter.queries.customers import resolve
from adapter.requests import commands as c
from adapter.requests import outbox
from adapter.service import attributes as attribute_svc
from adapter.service import contracts as contract_svc
from adapter.service import customers as customer_svc
from adapter.service import hierarchy as hierarchy_svc
from adapter.service import listings as listing_svc
from adapter.service import products as product_svc
from adapter.service.restore import restore
from adapter.store.uow import UnitOfWork

Result = dict[str, Any]
Handler = Callable[[UnitOfWork, Any], Result]

# Kinds a request may name by number or MSISDN as well as by id.
_NAMED_KINDS = frozenset({"customer", "account", "contract", "subscriber"})


def _id(uow: UnitOfWork, kind: str, ref: str) -> str:
    return resolve(uow.connection, kind, ref) if kind in _NAMED_KINDS else ref


def _new_id(uow: UnitOfWork, given: str | None, role: str) -> str:
    return given or c.derived_id(uow.actor.request_id, role)


def _set_attributes(uow: UnitOfWork, kind: str, entity_id: str, values: dict[str, Any]) -> None:
    for name, value in sorted(values.items()):
        attribute_svc.set_attribute(uow, kind, entity_id, name, value)


# ------------------------------------------------------------------------------ customers


def create_customer(uow: UnitOfWork, command: c.CreateCustomer) -> Result:
    data = command.model_dump(mode="json", exclude={"id", "account"})
    customer = customer_svc.create_customer(
        uow, {**data, "id": command.customer_id(uow.actor.request_id)}
    )
    result: Result = {"customer_id": customer.id, "customer_number": customer.customer_number}
    if command.account is not None:
        first = command.account
        account = hierarchy_svc.create_account(
            uow,
            {
                **first.model_dump(mode="json", exclude={"id", "attributes"}),
                "id": _new_id(uow, first.id, "account"),
                "customer_id": customer.id,
            },
        )
        _set_attributes(uow, "account", account.id, first.attributes)
        result["account_id"] = account.id
    return result


def update_customer(uow: UnitOfWork, command: c.UpdateCustomer) -> Result:
    customer_id = _id(uow, "customer", command.customer)
    customer_svc.update_customer(
        uow, customer_id, command.patch.as_merge_patch(), command.expected_version
    )
    return {"customer_id": customer_id}


def add_contact_person(uow: UnitOfWork, command: c.AddContactPerson) -> Result:
    customer_id = _id(uow, "customer", command.customer)
    person = customer_svc.add_contact_person(
        uow, customer_id, command.contact_person, command.expected_version
    )
    return {"customer_id": customer_id, "contact_person_id": person.id}


def remove_contact_person(uow: UnitOfWork, command: c.RemoveContactPerson) -> Result:
    customer_id = _id(uow, "customer", command.customer)
    person = customer_svc.remove_contact_person(
        uow, customer_id, command.contact_person_id, command.expected_version
    )
    return {"customer_id": customer_id, "contact_person_id": person.id}


# ------------------------------------------------------------------------------- accounts


def create_account(uow: UnitOfWork, command: c.CreateAccount) -> Result:
    customer_id = _id(uow, "customer", command.customer)
    parent_id = _id(uow, "account", command.parent) if command.parent else None
    data = command.model_dump(mode="json", exclude={"customer", "parent", "id", "attributes"})
    account = hierarchy_svc.create_account(
        uow,
        {
            **data,
            "id": _new_id(uow, command.id, "account"),
            "customer_id": customer_id,
            "parent_id": parent_id,
        },
    )
    _set_attributes(uow, "account", account.id, command.attributes)
    return {"account_id": account.id, "customer_id": customer_id}


def move_account(uow: UnitOfWork, command: c.MoveAccount) -> Result:
    account_id = _id(uow, "account", command.account)
    parent_id = _id(uow, "account", command.parent) if command.parent else None
    hierarchy_svc.move_account(uow, account_id, parent_id, command.expected_version)
    return {"account_id": account_id, "parent_id": parent_id}


def set_payment_responsibility(uow: UnitOfWork, command: c.SetPaymentResponsibility) -> Result:
    account_id = _id(uow, "account", command.account)
    hierarchy_svc.set_payment_responsibility(
        uow, account_id, command.payment_responsible, command.expected_version
    )
    return {"account_id": account_id, "payment_responsible": command.payment_responsible}


# ------------------------------------------------------------------------------ contracts


def create_contract(uow: UnitOfWork, command: c.CreateContract) -> Result:
    account_id = _id(uow, "account", command.account)
    contract_data = command.model_dump(
        mode="json", exclude={"account", "id", "status", "subscriber", "attributes"}
    )
    sim = command.subscriber
    contract, subscriber = contract_svc.create_contract(
        uow,
        account_id,
        {**contract_data, "id": _new_id(uow, command.id, "contract")},
        {
            **sim.model_dump(mode="json", exclude={"id", "attributes"}),
            "id": _new_id(uow, sim.id, "subscriber"),
        },
        activate=command.status == "active",
    )
    _set_attributes(uow, "contract", contract.id, command.attributes)
    _set_attributes(uow, "subscriber", subscriber.id, sim.attributes)
    return {"contract_id": contract.id, "subscriber_id": subscriber.id}


def change_contract_status(uow: UnitOfWork, command: c.ChangeContractStatus) -> Result:
    contract = contract_svc.change_contract_status(
        uow,
        _id(uow, "contract", command.contract),
        command.action,
        command.reason,
        command.expected_version,
    )
    return {"contract_id": contract.id, "status": contract.status.value}


# ------------------------------------------------------------------------------- services


def add_service(uow: UnitOfWork, command: c.AddService) -> Result:
    contract_id = _id(uow, "contract", command.contract)
    subscriber_id = _id(uow, "subscriber", command.subscriber) if command.subscriber else None
    data = command.model_dump(mode="json", exclude={"contract", "subscriber", "id"})
    service = product_svc.add_service(
        uow, contract_id, subscriber_id, {**data, "id": _new_id(uow, command.id, "service")}
    )
    return {"service_id": service.id, "status": service.status.value}


def _service(uow: UnitOfWork, command: c.ServiceCommand) -> ServiceAssignment:
    if command.service_id is not None:
        return uow.get(ServiceAssignment, command.service_id)
    assert command.contract is not None
    assert command.service_code is not None
    contract_id = _id(uow, "contract", command.contract)
    return product_svc.find_service(uow, contract_id, command.service_code)


def change_service(uow: UnitOfWork, command: c.ChangeService) -> Result:
    service = _service(uow, command)
    changes = command.model_dump(
        mode="json",
        include={"status", "parameters", "limits", "valid_to"} & command.model_fields_set,
    )
    product_svc.change_service(uow, service.id, changes, command.expected_version)
    return {"service_id": service.id, "status": service.status.value}


def remove_service(uow: UnitOfWork, command: c.RemoveService) -> Result:
    service = _service(uow, command)
    product_svc.remove_service(uow, service.id, command.valid_to, command.expected_version)
    return {"service_id": service.id, "status": service.status.value}


# ------------------------------------------------------------------------------ discounts


def assign_discount(uow: UnitOfWork, command: c.AssignDiscount) -> Result:
    kind, ref = command.target()
    data = command.model_dump(
        mode="json", exclude={"level", "account", "contract", "subscriber", "id"}
    )
    assignment = product_svc.assign_discount(
        uow,
        AssignmentLevel(command.level),
        _id(uow, kind, ref),
        {**data, "id": _new_id(uow, command.id, "discount")},
    )
    return {"discount_id": assignment.id}


def remove_discount(uow: UnitOfWork, command: c.RemoveDiscount) -> Result:
    assignment = product_svc.remove_discount(uow, command.discount_id, command.expected_version)
    return {"discount_id": assignment.id}


# --------------------------------------------------------------------------- suppressions


def _suppression_target(uow: UnitOfWork, command: c.SuppressionTarget) -> str:
    if command.scope_type is SuppressionScope.SUBSCRIBER:
        return _id(uow, "subscriber", str(command.subscriber))
    if command.scope_type is SuppressionScope.ACCOUNT:
        return _id(uow, "account", str(command.account))
    return str(command.group_name)


def set_listing_suppression(uow: UnitOfWork, command: c.SetListingSuppression) -> Result:
    data = command.model_dump(
        mode="json",
        include={"reason", "valid_from", "valid_to"},
    )
    suppression = listing_svc.set_listing_suppression(
        uow,
        command.scope_type,
        _suppression_target(uow, command),
        {**data, "id": _new_id(uow, command.id, "suppression")},
    )
    return {"suppression_id": suppression.id}


def clear_listing_suppression(uow: UnitOfWork, command: c.ClearListingSuppression) -> Result:
    if command.suppression_id is not None:
        ids = [command.suppression_id]
    else:
        assert command.of is not None
        target = _suppression_target(uow, command.of)
        ids = [s.id for s in listing_svc.active_suppressions(uow, command.of.scope_type, target)]
        if not ids:
            raise NotFound("active listing suppression", f"{command.of.scope_type.value} {target}")
    for suppression_id in ids:
        listing_svc.clear_listing_suppression(uow, suppression_id, command.expected_version)
    return {"suppression_ids": ids}


# ------------------------------------------------------------------- attributes, restore


def set_attributes(uow: UnitOfWork, command: c.SetAttributes) -> Result:
    kind = command.entity_kind.value
    entity_id = _id(uow, kind, command.entity)
    _set_attributes(uow, kind, entity_id, command.values)
    return {
        "entity_kind": kind,
        "entity_id": entity_id,
        "set": sorted(n for n, v in command.values.items() if v is not None),
        "cleared": sorted(n for n, v in command.values.items() if v is None),
    }


def restore_version(uow: UnitOfWork, command: c.RestoreVersion) -> Result:
    entity_id = _id(uow, command.kind, command.entity)
    expected = command.expected_version
    if expected is not None and command.kind in ENTITY_KINDS:
        current = uow.find(ENTITY_KINDS[command.kind], entity_id)
        if current is None:
            raise ConcurrencyConflict(command.kind, entity_id, expected, None)
        uow.expect_version(current, expected)
    restore(uow, command.kind, entity_id, command.version, command.field)
    return {"kind": command.kind, "id": entity_id, "version": command.version}


def resync_to_billing(uow: UnitOfWork, command: c.ResyncToBilling) -> Result:
    """Nothing changes in the store: the result names the entity at its current version (and,
    for a contract sent as new, its subscriber), which ``outbox.resent`` turns into the
    messages a change of it would have written."""
    entity_id = _id(uow, command.kind, command.entity)
    entity = uow.find(ENTITY_KINDS[command.kind], entity_id)
    if entity is None:
        raise NotFound(command.kind, entity_id)
    op = "create" if command.as_new else "update"
    resend = [{"kind": command.kind, "id": entity_id, "version": uow.version_of(entity), "op": op}]
    if not command.as_new:
        resend[0]["fields"] = sorted(command.fields)
    elif command.kind == "contract":
        # The number billing gets with the contract: its active subscriber, else any.
        subscribers = uow.find_by(Subscriber, contract_id=entity_id)
        ranked = sorted(subscribers, key=lambda s: (s.status != SubscriberStatus.ACTIVE, s.id))
        if ranked:
            sim = ranked[0]
            resend.append(
                {"kind": "subscriber", "id": sim.id, "version": uow.version_of(sim), "op": op}
            )
    return {outbox.RESEND: resend, "reason": command.reason}


HANDLERS: dict[str, Handler] = {
    "customer.create": create_customer,
    "customer.update": update_customer,
    "customer.add_contact_person": add_contact_person,
    "customer.remove_contact_person": remove_contact_person,
    "account.create": create_account,
    "account.move": move_account,
    "account.set_payment_responsibility": set_payment_responsibility,
    "contract.create": create_contract,
    "contract.change_status": change_contract_status,
    "service.add": add_service,
    "service.change": change_service,
    "service.remove": remove_service,
    "discount.assign": assign_discount,
    "discount.remove": remove_discount,
    "suppression.set": set_listing_suppression,
    "suppression.clear": clear_listing_suppression,
    "attributes.set": set_attributes,
    "version.restore": restore_version,
    "billing.resync": resync_to_billing,
}
