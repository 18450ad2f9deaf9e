"""How each entity kind is stored: its table, the indexed columns derived from its snapshot,
the search-key rows it owns, and the unique keys checked before a write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import Table

from adapter.domain import ENTITY_KINDS, Entity
from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.identifiers import identifier_key, search_text
from adapter.domain.model import (
    Account,
    Balance,
    ContactMediumType,
    Contract,
    Customer,
    DiscountAssignment,
    FreeUnitBucket,
    Individual,
    ListingSuppression,
    ServiceAssignment,
    Subscriber,
    SubscriberStatus,
    UsageRecord,
)
from adapter.store import tables as t


@dataclass(frozen=True)
class UniqueKey:
    """A column whose value no other live row may share; ``live`` narrows which rows count."""

    column: str
    label: str
    live: Callable[[Entity], bool] | None = None
    live_filter: tuple[str, str] | None = None  # (column, value that does NOT count)


@dataclass(frozen=True)
class EntityMapping:
    model: type[Entity]
    table: Table
    columns: Callable[[Any], dict[str, Any]]
    children: Callable[[Any], dict[Table, list[dict[str, Any]]]] | None = None
    unique: tuple[UniqueKey, ...] = ()
    versioned: bool = True
    # Which snapshot fields each child table is derived from: an update that touches none of
    # them leaves that table alone.
    child_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def children_touched(self, changed_paths: Iterable[str]) -> set[str]:
        fields = {path.split(".")[0] for path in changed_paths}
        return {name for name, sources in self.child_sources.items() if fields & set(sources)}


def _customer_columns(c: Customer) -> dict[str, Any]:
    birth: date | None = c.party.birth_date if isinstance(c.party, Individual) else None
    return {
        "customer_number": c.customer_number,
        "party_kind": c.party.kind,
        "status": c.status.value,
        "segment": c.segment,
        "name_key": search_text(c.display_name)[:254],
        "display_name": c.display_name,
        "birth_date": birth,
    }


def _customer_children(c: Customer) -> dict[Table, list[dict[str, Any]]]:
    media = [*c.contact_media, *(m for p in c.contact_persons for m in p.contact_media)]
    contacts = [
        {
            "customer_id": c.id,
            "type": m.type.value,
            "value_key": m.value.lower() if m.type is ContactMediumType.EMAIL else m.value,
        }
        for m in media
    ]
    return {
        t.customer_identification: [
            {"customer_id": c.id, "type": i.type.value, "value_key": identifier_key(i.value)}
            for i in c.identifications
        ],
        t.customer_contact: contacts,
        t.customer_address: [
            {
                "customer_id": c.id,
                "role": a.role.value,
                "line_key": search_text(" ".join(a.lines))[:600],
                "postcode_key": identifier_key(a.postcode),
                "city_key": search_text(a.city),
                "country": a.country,
            }
            for a in c.addresses
        ],
    }


def _account_columns(a: Account) -> dict[str, Any]:
    return {
        "customer_id": a.customer_id,
        "number": a.number,
        "parent_id": a.parent_id,
        "payment_responsible": a.payment_responsible,
    }


def _contract_columns(c: Contract) -> dict[str, Any]:
    return {
        "customer_id": c.customer_id,
        "account_id": c.account_id,
        "number": c.number,
        "status": c.status.value,
    }


def _subscriber_columns(s: Subscriber) -> dict[str, Any]:
    return {
        "customer_id": s.customer_id,
        "account_id": s.account_id,
        "contract_id": s.contract_id,
        "msisdn": s.msisdn,
        "imsi": s.imsi,
        "iccid": s.iccid,
        "status": s.status.value,
    }


def _service_columns(s: ServiceAssignment) -> dict[str, Any]:
    return {
        "customer_id": s.customer_id,
        "account_id": s.account_id,
        "contract_id": s.contract_id,
        "subscriber_id": s.subscriber_id,
        "service_code": s.service_code,
        "status": s.status.value,
    }


def _discount_columns(d: DiscountAssignment) -> dict[str, Any]:
    return {
        "customer_id": d.customer_id,
        "account_id": d.account_id,
        "contract_id": d.contract_id,
        "subscriber_id": d.subscriber_id,
        "level": d.level.value,
        "code": d.code,
        "status": d.status,
    }


def _balance_columns(b: Balance) -> dict[str, Any]:
    return {"customer_id": b.customer_id, "account_id": b.account_id, "currency": b.currency}


def _bucket_columns(b: FreeUnitBucket) -> dict[str, Any]:
    return {
        "customer_id": b.customer_id,
        "account_id": b.account_id,
        "contract_id": b.contract_id,
        "subscriber_id": b.subscriber_id,
        "package": b.package,
        "period_start": b.period_start,
    }


def _usage_columns(u: UsageRecord) -> dict[str, Any]:
    return {
        "customer_id": u.customer_id,
        "account_id": u.account_id,
        "contract_id": u.contract_id,
        "subscriber_id": u.subscriber_id,
        "start_time": u.start_time,
        "type": u.type.value,
    }


def _suppression_columns(s: ListingSuppression) -> dict[str, Any]:
    return {
        "scope_type": s.scope_type.value,
        "customer_id": s.customer_id,
        "account_id": s.account_id,
        "subscriber_id": s.subscriber_id,
        "group_name": s.group_name,
        "active": s.active,
    }


def _definition_columns(d: AttributeDefinition) -> dict[str, Any]:
    return {
        "name": d.name,
        "entity_kind": d.entity_kind.value,
        "status": d.status,
        "required": d.required,
    }


def _value_columns(v: AttributeValue) -> dict[str, Any]:
    key = None if v.value is None else search_text(str(v.value))[:254]
    return {
        "name": v.name,
        "entity_kind": v.entity_kind.value,
        "entity_id": v.entity_id,
        "customer_id": v.customer_id,
        "value_key": key,
    }


def _live_subscriber(e: Entity) -> bool:
    return cast(Subscriber, e).status is not SubscriberStatus.DEACTIVATED


MAPPINGS: dict[str, EntityMapping] = {
    m.model.kind: m
    for m in (
        EntityMapping(
            Customer,
            t.customer,
            _customer_columns,
            _customer_children,
            unique=(UniqueKey("customer_number", "customer number"),),
            child_sources={
                t.customer_identification.name: ("identifications",),
                t.customer_contact.name: ("contact_media", "contact_persons"),
                t.customer_address.name: ("addresses",),
            },
        ),
        EntityMapping(
            Account,
            t.account,
            _account_columns,
            unique=(UniqueKey("number", "account number"),),
        ),
        EntityMapping(
            Contract,
            t.contract,
            _contract_columns,
            unique=(UniqueKey("number", "contract number"),),
        ),
        EntityMapping(
            Subscriber,
            t.subscriber,
            _subscriber_columns,
            unique=(UniqueKey("msisdn", "MSISDN", _live_subscriber, ("status", "deactivated")),),
        ),
        EntityMapping(ServiceAssignment, t.service_assignment, _service_columns),
        EntityMapping(DiscountAssignment, t.discount_assignment, _discount_columns),
        EntityMapping(Balance, t.balance, _balance_columns),
        EntityMapping(FreeUnitBucket, t.free_unit_bucket, _bucket_columns),
        # Listing lines are immutable and numerous: stored without version rows, each tied to
        # the change that recorded it and covered by that change's hash (summary.usage_digest).
        EntityMapping(UsageRecord, t.usage_record, _usage_columns, versioned=False),
        EntityMapping(ListingSuppression, t.listing_suppression, _suppression_columns),
        EntityMapping(
            AttributeDefinition,
            t.attribute_definition,
            _definition_columns,
            unique=(UniqueKey("name", "attribute name"),),
        ),
        EntityMapping(AttributeValue, t.attribute_value, _value_columns),
    )
}

assert set(MAPPINGS) == set(ENTITY_KINDS), "every entity kind needs a mapping"


def mapping_for(kind: str) -> EntityMapping:
    try:
        return MAPPINGS[kind]
    except KeyError:
        known = ", ".join(sorted(MAPPINGS))
        raise KeyError(f"unknown entity kind {kind!r}; known kinds: {known}") from None
