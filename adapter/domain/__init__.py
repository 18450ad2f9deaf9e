"""The canonical customer model: plain Python, no storage, SOAP or HTTP imports."""

from adapter.domain.actor import Actor
from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.model import (
    Account,
    Balance,
    Contract,
    Customer,
    DiscountAssignment,
    Entity,
    FreeUnitBucket,
    ListingSuppression,
    ServiceAssignment,
    Subscriber,
    UsageRecord,
)

ENTITY_KINDS: dict[str, type[Entity]] = {
    cls.kind: cls
    for cls in (
        Customer,
        Account,
        Contract,
        Subscriber,
        ServiceAssignment,
        DiscountAssignment,
        Balance,
        FreeUnitBucket,
        UsageRecord,
        ListingSuppression,
        AttributeDefinition,
        AttributeValue,
    )
}

__all__ = ["ENTITY_KINDS", "Actor", "Entity"]
