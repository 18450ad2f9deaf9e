"""Handlers that create and change customers."""

from __future__ import annotations

from typing import Any

from adapter.domain.errors import Conflict, NotFound, ValidationFailed
from adapter.domain.model import ContactPerson, Customer
from adapter.domain.patch import merge_patch
from adapter.domain.validation import parse
from adapter.service.attributes import set_attribute
from adapter.store.uow import UnitOfWork


def create_customer(uow: UnitOfWork, data: dict[str, Any]) -> Customer:
    """Validate ``data`` as a customer and register it, with the custom attribute values under
    its optional ``attributes`` key (``{name: value}``); the caller commits."""
    fields = dict(data)
    values = fields.pop("attributes", None) or {}
    if not isinstance(values, dict):
        raise ValidationFailed.one("attributes", "type", "attributes must be an object")
    customer = parse(Customer, fields)
    uow.add(customer)
    for name, value in values.items():
        set_attribute(uow, "customer", customer.id, str(name), value)
    return customer


def update_customer(
    uow: UnitOfWork, customer_id: str, patch: dict[str, Any], expected_version: int | None = None
) -> Customer:
    """Apply a merge patch to a customer's data."""
    current = uow.get(Customer, customer_id)
    uow.expect_version(current, expected_version)
    if "id" in patch and patch["id"] != customer_id:
        raise ValidationFailed.one("id", "immutable", "a customer's id cannot change")
    updated = parse(Customer, merge_patch(current.snapshot(), patch))
    uow.replace(updated)
    return updated


def find_customer(uow: UnitOfWork, ref: str) -> Customer:
    """A customer by id or customer number."""
    found = uow.find(Customer, ref)
    if found is not None:
        return found
    by_number = uow.find_by(Customer, customer_number=ref)
    if by_number:
        return by_number[0]
    raise NotFound("customer", ref)


def add_contact_person(
    uow: UnitOfWork, customer_id: str, person: ContactPerson, expected_version: int | None = None
) -> ContactPerson:
    """Add a contact person (authorized contact, billing contact…) to a customer."""
    customer = uow.get(Customer, customer_id)
    uow.expect_version(customer, expected_version)
    if any(p.id == person.id for p in customer.contact_persons):
        raise Conflict(
            f"customer {customer.customer_number} already has a contact person {person.id}"
        )
    customer.contact_persons = [*customer.contact_persons, person]
    return person


def remove_contact_person(
    uow: UnitOfWork, customer_id: str, person_id: str, expected_version: int | None = None
) -> ContactPerson:
    """Remove a contact person; history keeps it in the customer's earlier versions."""
    customer = uow.get(Customer, customer_id)
    uow.expect_version(customer, expected_version)
    found = next((p for p in customer.contact_persons if p.id == person_id), None)
    if found is None:
        raise NotFound("contact person", person_id)
    customer.contact_persons = [p for p in customer.contact_persons if p.id != person_id]
    return found
