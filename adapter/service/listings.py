"""Handlers that set and clear listing suppressions (DESIGN section 3): a subscriber's, an
account's (its whole subtree) or a named listing group's traffic listings hidden from anyone
without the privilege to view suppressed listings."""

from __future__ import annotations

from typing import Any

from adapter.domain.errors import Conflict, NotFound
from adapter.domain.model import Account, ListingSuppression, Subscriber, SuppressionScope
from adapter.domain.validation import parse, validating
from adapter.store.uow import UnitOfWork


def _target_columns(uow: UnitOfWork, scope_type: SuppressionScope, target: str) -> dict[str, Any]:
    """The suppression's target as the columns it is stored (and found) by; ``target`` is a
    subscriber id, an account id or a group name."""
    if scope_type is SuppressionScope.SUBSCRIBER:
        sim = uow.get(Subscriber, target)
        return {
            "customer_id": sim.customer_id,
            "account_id": sim.account_id,
            "contract_id": sim.contract_id,
            "subscriber_id": sim.id,
        }
    if scope_type is SuppressionScope.ACCOUNT:
        account = uow.get(Account, target)
        return {"customer_id": account.customer_id, "account_id": account.id}
    return {"group_name": target}


def active_suppressions(
    uow: UnitOfWork, scope_type: SuppressionScope, target: str
) -> list[ListingSuppression]:
    """The active suppressions of exactly this target (not those inherited from above)."""
    columns = _target_columns(uow, scope_type, target)
    key = {
        SuppressionScope.SUBSCRIBER: "subscriber_id",
        SuppressionScope.ACCOUNT: "account_id",
        SuppressionScope.GROUP: "group_name",
    }[scope_type]
    return uow.find_by(
        ListingSuppression, scope_type=scope_type.value, active=True, **{key: columns[key]}
    )


def set_listing_suppression(
    uow: UnitOfWork, scope_type: SuppressionScope, target: str, data: dict[str, Any]
) -> ListingSuppression:
    """Suppress the listings of a target. An active suppression of the same target takes the
    new ``reason`` and validity instead of a second one being made."""
    existing = active_suppressions(uow, scope_type, target)
    if existing:
        current = existing[0]
        with validating():
            for name in ("reason", "valid_from", "valid_to"):
                if name in data:
                    setattr(current, name, data[name])
        return current
    columns = _target_columns(uow, scope_type, target)
    created = parse(ListingSuppression, {**data, **columns, "scope_type": scope_type.value})
    uow.add(created)
    return created


def clear_listing_suppression(
    uow: UnitOfWork, suppression_id: str, expected_version: int | None = None
) -> ListingSuppression:
    """Lift a suppression (it stays in the record, inactive)."""
    found = uow.find(ListingSuppression, suppression_id)
    if found is None:
        raise NotFound("listing suppression", suppression_id)
    uow.expect_version(found, expected_version)
    if not found.active:
        raise Conflict(f"listing suppression {suppression_id} is already cleared")
    found.active = False
    return found
