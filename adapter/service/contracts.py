"""Handlers that create contracts and move them through their statuses."""

from __future__ import annotations

from typing import Any

from adapter.domain.errors import Conflict
from adapter.domain.model import (
    Account,
    Contract,
    ContractStatus,
    ServiceAssignment,
    ServiceStatus,
    Subscriber,
    SubscriberStatus,
)
from adapter.domain.validation import parse
from adapter.store.uow import UnitOfWork

# What each action asks for: the status it reaches, and the statuses it may start from (None:
# any the contract's own transitions allow). ``activate`` and ``reactivate`` both reach active
# but say what the caller believes the contract is, so a request sent on stale knowledge is
# refused rather than doing something else than intended.
CONTRACT_ACTIONS: dict[str, tuple[ContractStatus, frozenset[ContractStatus] | None]] = {
    "activate": (ContractStatus.ACTIVE, frozenset({ContractStatus.ON_HOLD})),
    "suspend": (ContractStatus.SUSPENDED, frozenset({ContractStatus.ACTIVE})),
    "reactivate": (ContractStatus.ACTIVE, frozenset({ContractStatus.SUSPENDED})),
    "deactivate": (ContractStatus.DEACTIVATED, None),
}

# The subscribers of a contract follow it, as in billing (a BSCS contract is its subscriber's
# subscription): status reached → (subscriber statuses that change, to what).
_SUBSCRIBERS_FOLLOW: dict[ContractStatus, tuple[frozenset[SubscriberStatus], SubscriberStatus]] = {
    ContractStatus.ACTIVE: (frozenset({SubscriberStatus.SUSPENDED}), SubscriberStatus.ACTIVE),
    ContractStatus.SUSPENDED: (frozenset({SubscriberStatus.ACTIVE}), SubscriberStatus.SUSPENDED),
    ContractStatus.DEACTIVATED: (
        frozenset({SubscriberStatus.ACTIVE, SubscriberStatus.SUSPENDED}),
        SubscriberStatus.DEACTIVATED,
    ),
}


def create_contract(
    uow: UnitOfWork,
    account_id: str,
    contract: dict[str, Any],
    subscriber: dict[str, Any],
    *,
    activate: bool = False,
) -> tuple[Contract, Subscriber]:
    """A contract on ``account_id`` with its subscriber (the SIM and number it is used with);
    with ``activate`` the contract starts active, recorded as a status change."""
    account = uow.get(Account, account_id)
    if account.status == "closed":
        raise Conflict(f"account {account.number} is closed; it takes no new contract")
    scope = {"customer_id": account.customer_id, "account_id": account.id}
    created = parse(Contract, {**contract, **scope})
    sim = parse(Subscriber, {**subscriber, **scope, "contract_id": created.id}, "subscriber.")
    if activate:
        created.change_status(ContractStatus.ACTIVE, uow.now(), "activated on creation")
    uow.add(created)
    uow.add(sim)
    return created, sim


def change_contract_status(
    uow: UnitOfWork,
    contract_id: str,
    action: str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Contract:
    """Apply ``action`` (activate, suspend, reactivate, deactivate) through
    :meth:`Contract.change_status`. The contract's subscribers follow its status; deactivation
    also deactivates its services and frees its numbers, as billing does."""
    contract = uow.get(Contract, contract_id)
    uow.expect_version(contract, expected_version)
    if action not in CONTRACT_ACTIONS:
        known = ", ".join(CONTRACT_ACTIONS)
        raise Conflict(f"unknown contract action {action!r} ({known})")
    status, starts = CONTRACT_ACTIONS[action]
    if starts is not None and contract.status not in starts:
        wanted = " or ".join(sorted(s.value for s in starts))
        raise Conflict(
            f"contract {contract.number} is {contract.status.value}; {action} needs it {wanted}"
        )
    contract.change_status(status, uow.now(), reason)
    follows, becomes = _SUBSCRIBERS_FOLLOW[status]
    for sim in uow.find_by(Subscriber, contract_id=contract.id):
        if sim.status in follows:
            sim.status = becomes
    if status is ContractStatus.DEACTIVATED:
        for service in uow.find_by(ServiceAssignment, contract_id=contract.id):
            if service.status is not ServiceStatus.DEACTIVATED:
                service.status = ServiceStatus.DEACTIVATED
    return contract
