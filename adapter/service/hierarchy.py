"""Handlers that shape the organisation hierarchy. The store refuses cycles and unknown
parents; these say what the caller asked for."""

from __future__ import annotations

from typing import Any

from adapter.domain.errors import ValidationFailed
from adapter.domain.model import Account, Customer
from adapter.domain.validation import parse
from adapter.store.uow import UnitOfWork


def create_account(uow: UnitOfWork, data: dict[str, Any]) -> Account:
    """A new account, under ``parent_id`` when given (a parent of another customer is allowed:
    corporate groups span legal entities)."""
    account = parse(Account, data)
    if uow.find(Customer, account.customer_id) is None:
        raise ValidationFailed.one(
            "customer_id", "exists", f"there is no customer {account.customer_id!r}"
        )
    uow.add(account)
    return account


def move_account(
    uow: UnitOfWork,
    account_id: str,
    new_parent_id: str | None,
    expected_version: int | None = None,
) -> Account:
    """Move an account, with its whole subtree, under another parent (None: make it a root)."""
    account = uow.get(Account, account_id)
    uow.expect_version(account, expected_version)
    if new_parent_id == account_id:
        raise ValidationFailed.one("parent_id", "acyclic", "an account cannot be its own parent")
    account.parent_id = new_parent_id
    return account


def set_payment_responsibility(
    uow: UnitOfWork, account_id: str, responsible: bool, expected_version: int | None = None
) -> Account:
    account = uow.get(Account, account_id)
    uow.expect_version(account, expected_version)
    account.payment_responsible = responsible
    return account
