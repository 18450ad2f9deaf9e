"""Push one stored customer to billing: every node, contract, service and discount, in the order
BSCS needs them, through the gateway and the mapping files.

``push_customer(engine, gateway, mappings, ref)`` reads the customer once (a read-only
connection, closed before the first call: no billing call runs inside a store transaction),
then sends, for the customer's hierarchy top-down:

1. ``CustomerNew`` per account (parents first, each child with its parent's ``csId``), then the
   node's account-level ``DiscountAssign``\\ s;
2. ``CustomerInfoWrite`` per node that has custom attributes billing keeps as info fields
   (the customer's own attributes go to its top node);
3. per contract (deactivated ones first, so that a number recycled within the customer is free
   again when its live contract is created): ``ContractNew`` with its subscriber, its
   contract- and subscriber-level ``DiscountAssign``\\ s, ``ContractServicesAdd`` with
   parameters and limits, and ``ContractWrite`` along the allowed BSCS transitions to the
   stored status (o→a→s for a suspended one; services and discounts come before a
   deactivation, which billing would refuse them after);
4. ``CustomerWrite`` for each node whose status is not the one ``CustomerNew`` could give
   (suspended or closed), last, because a node closes only once its contracts are
   deactivated.

Re-running after a failure does not duplicate anything billing can check: the public ids are
the CRM's numbers, so a node or contract created before answers ``CMS.RC6720`` and is read back
(``CustomerRead``/``ContractRead``) instead (billing checks a contract's number before its
public id, so a ``CMS.RC6721`` on ContractNew is read back too, and stands only when the
contract is not there); its hierarchy, rate plan and status are then
brought to the stored values from what billing reports, and only the services billing lacks
are added. CIL cannot read discounts: the discounts of a node or contract that already
existed are therefore not sent again but listed in :attr:`PushReport.unverified` for an
operator to check, since sending them could assign them twice.

The legacy ids obtained are returned in the report, not stored (the outbox records them).
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, select

from adapter.domain.errors import NotFound
from adapter.domain.model import (
    CONTRACT_TRANSITIONS,
    Account,
    AssignmentLevel,
    Contract,
    ContractStatus,
    Customer,
    CustomerStatus,
    DiscountAssignment,
    ServiceAssignment,
    ServiceStatus,
    Subscriber,
    SubscriberStatus,
)
from adapter.legacy import BillingError, BusinessFault, Gateway, TransientFailure
from adapter.mapping import MappingFailed, Mappings
from adapter.queries.customers import customer_view, resolve
from adapter.queries.hierarchy import account_node, depth_first
from adapter.store import tables as t
from adapter.store.reading import read_connection

log = structlog.get_logger("adapter.legacy.push")

DUPLICATE = "CMS.RC6720"  # the public id is taken: the node or contract is already in billing
NUMBER_IN_USE = "CMS.RC6721"  # the MSISDN is held by a live contract (maybe this very one)
NO_CONTRACT = "CMS.RC6702"
SERVICE_NOT_ON = "CMS.RC6742"  # the service is not on the contract
SERVICE_STATUS = "CMS.RC6743"  # a service status billing does not allow (or a deactivated one)
ALREADY_REMOVED = "CMS.RC6752"  # the discount assignment was removed before
MAPPING_FAILED = "ADAPTER.MAPPING"  # stored data the mapping files cannot express
MISMATCH = "ADAPTER.MISMATCH"  # billing holds the object differently than a push can fix
NO_NUMBER = "ADAPTER.NO_NUMBER"  # a contract without a subscriber: BSCS needs a number
MAX_SERVICES = 64  # services per ContractServicesAdd (cil.xsd)
DEFAULT_REASON = "crm push"

# BSCS customer node transitions (docs/legacy-interface.md), in canonical statuses: i→a, i→d,
# a→s, s→a, a→d, s→d; nothing leaves d.
NODE_TRANSITIONS: dict[CustomerStatus, frozenset[CustomerStatus]] = {
    CustomerStatus.PROSPECT: frozenset({CustomerStatus.ACTIVE, CustomerStatus.CLOSED}),
    CustomerStatus.ACTIVE: frozenset({CustomerStatus.SUSPENDED, CustomerStatus.CLOSED}),
    CustomerStatus.SUSPENDED: frozenset({CustomerStatus.ACTIVE, CustomerStatus.CLOSED}),
    CustomerStatus.CLOSED: frozenset(),
}

S = TypeVar("S", CustomerStatus, ContractStatus)
M = TypeVar("M", bound=BaseModel)


# ----------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Subject:
    """The canonical entity a call is about, as an operator names it."""

    kind: str  # account, contract, service_assignment, discount_assignment, customer
    id: str
    label: str  # "account C000001.1", "service DATA on contract CO000003"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "label": self.label}


@dataclass(frozen=True)
class Call:
    """One call made (or refused) during a push, with what it gave."""

    operation: str
    subject: Subject
    outcome: str  # created, read, added, assigned, moved, "status s"…; refused, failed
    legacy_ids: Mapping[str, Any] = field(default_factory=dict)
    code: str | None = None  # the fault code of a refused or failed call

    def as_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "subject": self.subject.as_dict(),
            "outcome": self.outcome,
            "legacy_ids": dict(self.legacy_ids),
            "code": self.code,
        }


@dataclass(frozen=True)
class Skipped:
    """Something stored that the push did not send, and why."""

    subject: Subject
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject.as_dict(), "reason": self.reason}


@dataclass
class PushReport:
    """What a push did: billing's ids per canonical entity id, the calls in order, and what it
    left out. A failed push carries the report of what was done before the failure."""

    customer_id: str
    customer_number: str
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # cs_id, cs_id_pub
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)  # co_id, co_id_pub
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # sn_code, sn_code_pub
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # assign_id
    calls: list[Call] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unverified: list[Skipped] = field(default_factory=list)

    @property
    def legacy_ids(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            "accounts": self.accounts,
            "contracts": self.contracts,
            "services": self.services,
            "discounts": self.discounts,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "customer_number": self.customer_number,
            "legacy_ids": self.legacy_ids,
            "calls": [c.as_dict() for c in self.calls],
            "skipped": [s.as_dict() for s in self.skipped],
            "unverified": [s.as_dict() for s in self.unverified],
        }


class PushFailed(Exception):
    """The push stopped at one call. ``code`` is billing's fault code (``CMS.RC6740``…), an
    ``ADAPTER.*`` code for stored data billing cannot take, or for a transient failure its
    reason (``connection``, ``circuit_open``…); ``report`` holds what was done before."""

    def __init__(
        self,
        operation: str,
        subject: Subject,
        code: str,
        message: str,
        report: PushReport,
        *,
        transient: bool = False,
        cause: Exception | None = None,
    ) -> None:
        self.operation = operation
        self.subject = subject
        self.code = code
        self.detail = message
        self.report = report
        self.transient = transient
        self.cause = cause
        done = sum(1 for c in report.calls if c.code is None)
        if transient:
            attempts = cause.attempts if isinstance(cause, BillingError) else 1
            what = f"billing unreachable after {attempts} attempt(s) ({code}): {message}"
        else:
            what = f"refused: {code} {message}"
        super().__init__(
            f"{operation} for {subject.label} {what} (push of customer "
            f"{report.customer_number} stopped after {done} calls that succeeded)"
        )


class _Refused(Exception):
    """A tolerated business fault, for the caller to look closer at."""

    def __init__(self, fault: BusinessFault) -> None:
        super().__init__(str(fault))
        self.fault = fault


TAKEN = frozenset({DUPLICATE})


# ----------------------------------------------------------------------------------- the plan


@dataclass
class _Plan:
    """The customer as stored, read once, in models."""

    customer: Customer
    accounts: list[Account]  # top-down: every parent before its children
    outside_parents: dict[str, str]  # parent id → number, for a parent in another tree
    contracts: list[Contract]
    subscribers: list[Subscriber]
    services: list[ServiceAssignment]
    discounts: list[DiscountAssignment]
    attributes: dict[str, dict[str, Any]]  # "kind:id" → {name: value}


def _model(model: type[M], row: Mapping[str, Any]) -> M:
    """A stored snapshot as its model; view-only keys (``_version``, ``payer``) left out."""
    return model.model_validate({k: v for k, v in row.items() if k in model.model_fields})


def resolve_customer(conn: Connection, ref: str) -> str:
    """The id of the customer ``ref`` names: its id, its customer number, or an MSISDN of one
    of its subscribers."""
    try:
        return resolve(conn, "customer", ref)
    except NotFound:
        pass
    try:
        subscriber_id = resolve(conn, "subscriber", ref)
    except NotFound:
        raise NotFound("customer", ref) from None
    owner = conn.execute(
        select(t.subscriber.c.customer_id).where(t.subscriber.c.id == subscriber_id)
    ).scalar_one_or_none()
    if owner is None:  # a subscriber known only from history
        raise NotFound("customer", ref)
    return str(owner)


def _read_plan(engine: Engine, customer_ref: str) -> _Plan:
    with read_connection(engine) as conn:
        view = customer_view(conn, resolve_customer(conn, customer_ref))
        accounts = [_model(Account, row) for row in view["accounts"]]
        known = {a.id for a in accounts}
        outside = {
            a.parent_id: account_node(conn, a.parent_id).number
            for a in accounts
            if a.parent_id is not None and a.parent_id not in known
        }
    ordered = depth_first(accounts, lambda a: a.id, lambda a: a.parent_id, lambda a: a.number)
    return _Plan(
        customer=_model(Customer, view["customer"]),
        accounts=[account for account, _depth in ordered],
        outside_parents=outside,
        contracts=[_model(Contract, row) for row in view["contracts"]],
        subscribers=[_model(Subscriber, row) for row in view["subscribers"]],
        services=[_model(ServiceAssignment, row) for row in view["services"]],
        discounts=[_model(DiscountAssignment, row) for row in view["discounts"]],
        attributes=view["attributes"],
    )


def _path(transitions: Mapping[S, frozenset[S]], start: S, target: S) -> list[S]:
    """The shortest chain of allowed changes from ``start`` to ``target`` (the statuses after
    ``start``); empty when already there. Raises ``ValueError`` when none leads there."""
    if start == target:
        return []
    came_from: dict[S, S] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for following in sorted(transitions[current]):
            if following in came_from or following == start:
                continue
            came_from[following] = current
            if following == target:
                chain = [following]
                while came_from[chain[-1]] != start:
                    chain.append(came_from[chain[-1]])
                return chain[::-1]
            queue.append(following)
    raise ValueError(f"no allowed change leads from {start.value} to {target.value}")


def _node_status(customer: Customer, account: Account) -> CustomerStatus:
    """The status a node should have in billing: BSCS keeps one status per node, which CIL
    reads back as both the customer's and the account's, so the stricter of the two wins."""
    statuses = {customer.status.value, account.status}
    if "closed" in statuses:
        return CustomerStatus.CLOSED
    if "suspended" in statuses:
        return CustomerStatus.SUSPENDED
    return customer.status


def _start_status(customer: Customer) -> CustomerStatus:
    """What CustomerNew creates: interested for a prospect, active otherwise (the mapping sends
    no other status)."""
    if customer.status is CustomerStatus.PROSPECT:
        return CustomerStatus.PROSPECT
    return CustomerStatus.ACTIVE


# ----------------------------------------------------------------------------------- pushing


def push_customer(
    engine: Engine, gateway: Gateway, mappings: Mappings, customer_ref: str
) -> PushReport:
    """Send the stored customer ``customer_ref`` (id, customer number or MSISDN) to billing.

    Returns the report of the calls and of billing's ids; raises :class:`PushFailed` (with the
    report so far) when billing refuses a call, cannot be reached, or the stored data cannot
    be mapped, and :class:`~adapter.domain.errors.NotFound` for an unknown customer."""
    plan = _read_plan(engine, customer_ref)
    pusher = _Pusher(gateway, mappings, plan)
    log.info("billing.push_started", customer=plan.customer.customer_number)
    try:
        pusher.run()
    except PushFailed as failed:
        log.warning(
            "billing.push_failed",
            customer=plan.customer.customer_number,
            operation=failed.operation,
            subject=failed.subject.label,
            code=failed.code,
            calls=len(failed.report.calls),
        )
        raise
    log.info(
        "billing.push_done",
        customer=plan.customer.customer_number,
        calls=len(pusher.report.calls),
        unverified=len(pusher.report.unverified),
    )
    return pusher.report


class _Pusher:
    def __init__(self, gateway: Gateway, mappings: Mappings, plan: _Plan) -> None:
        self.gateway = gateway
        self.mappings = mappings
        self.plan = plan
        self.report = PushReport(plan.customer.id, plan.customer.customer_number)
        self.accounts = {a.id: a for a in plan.accounts}
        self.position = {a.id: i for i, a in enumerate(plan.accounts)}
        self.node_status: dict[str, CustomerStatus] = {}  # account id → status in billing
        self.contract_of_subscriber = {s.id: s.contract_id for s in plan.subscribers}
        self.discounts: list[DiscountAssignment] = []  # the ones in force
        for discount in plan.discounts:
            if discount.status == "active":
                self.discounts.append(discount)
            else:
                self.report.skipped.append(Skipped(self._discount_subject(discount), "removed"))

    def run(self) -> None:
        self._check_numbers()
        for account in self.plan.accounts:
            self._push_account(account)
        self._push_info_fields()
        for contract in sorted(self.plan.contracts, key=self._contract_order):
            self._push_contract(contract)
        for account in reversed(self.plan.accounts):
            self._reach_node_status(account)

    # ------------------------------------------------------------------ calls

    def _call(
        self,
        operation: str,
        subject: Subject,
        context: Mapping[str, Any],
        *,
        outcome: str,
        tolerate: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """Map, send and map back one operation, and record it. Returns the inbound result
        (``{}`` for an operation without one). A business fault whose code is in ``tolerate``
        raises :class:`_Refused` for the caller to look closer; any other failure stops the
        push (:class:`PushFailed`)."""
        try:
            inputs = self.mappings.outbound(operation, context)
        except MappingFailed as exc:
            raise self._failed(
                operation, subject, MAPPING_FAILED, str(exc), exc, sent=False
            ) from exc
        try:
            response = self.gateway.call(operation, inputs)
        except BillingError as exc:
            if isinstance(exc, BusinessFault):
                if exc.code in tolerate:
                    seen = "already in billing" if exc.code == DUPLICATE else "refused"
                    self.report.calls.append(Call(operation, subject, seen, code=exc.code))
                    raise _Refused(exc) from exc
                raise self._failed(operation, subject, exc.code, exc.fault_message, exc) from exc
            reason = exc.reason if isinstance(exc, TransientFailure) else "billing"
            detail = exc.message.removeprefix(f"{reason}: ")
            raise self._failed(
                operation, subject, reason, detail, exc, transient=not exc.permanent
            ) from exc
        try:
            mapped = bool(response) and self.mappings.has_inbound(operation)
            result = self.mappings.inbound(operation, response) if mapped else {}
        except MappingFailed as exc:
            raise self._failed(operation, subject, MAPPING_FAILED, str(exc), exc) from exc
        self.report.calls.append(Call(operation, subject, outcome, result.get("legacy_ids", {})))
        return result

    def _failed(
        self,
        operation: str,
        subject: Subject,
        code: str,
        message: str,
        cause: Exception | None = None,
        *,
        transient: bool = False,
        sent: bool = True,
    ) -> PushFailed:
        """Record the call that stopped the push (``not sent`` when the adapter stopped it
        itself) and build the error that carries the report."""
        outcome = "failed" if sent else "not sent"
        self.report.calls.append(Call(operation, subject, outcome, code=code))
        return PushFailed(
            operation, subject, code, message, self.report, transient=transient, cause=cause
        )

    # ------------------------------------------------------------------ nodes

    def _account_subject(self, account: Account) -> Subject:
        return Subject("account", account.id, f"account {account.number}")

    def _parent_context(self, account: Account) -> tuple[str | None, dict[str, Any]]:
        """The number of a node's parent and the context that names it (``parent_account``,
        and ``legacy_ids.parent_cs_id`` once billing has given it)."""
        if account.parent_id is None:
            return None, {}
        parent = self.accounts.get(account.parent_id)
        if parent is None:  # a parent in another customer's tree: billing finds it by number
            number = self.plan.outside_parents[account.parent_id]
            return number, {"parent_account": {"number": number}}
        return parent.number, {
            "parent_account": parent,
            "legacy_ids": {"parent_cs_id": self.report.accounts[parent.id]["cs_id"]},
        }

    def _push_account(self, account: Account) -> None:
        subject = self._account_subject(account)
        parent_number, parent = self._parent_context(account)
        context = {"customer": self.plan.customer, "account": account, **parent}
        try:
            created = self._call("CustomerNew", subject, context, outcome="created", tolerate=TAKEN)
        except _Refused:  # already in billing (an earlier push): read it back and go on
            pass
        else:
            self.report.accounts[account.id] = dict(created["legacy_ids"])
            self.node_status[account.id] = _start_status(self.plan.customer)
            self._push_discounts(self._discounts_of(account), account)
            return
        read = self._read_node(account, subject)
        self._align_hierarchy(account, read, parent_number, parent)
        self._unverified_discounts(self._discounts_of(account), account)

    def _read_node(self, account: Account, subject: Subject) -> dict[str, Any]:
        """``CustomerRead`` of a node billing has: its ids and status recorded, the whole
        answer returned."""
        read = self._call("CustomerRead", subject, {"account": account}, outcome="read")
        ids = read["legacy_ids"]
        self.report.accounts[account.id] = {"cs_id": ids["cs_id"], "cs_id_pub": ids["cs_id_pub"]}
        self.node_status[account.id] = CustomerStatus(read["customer"]["status"])
        return read

    def _node_ids(self, account: Account) -> dict[str, Any]:
        """``legacy_ids.cs_id`` of a node when billing's id is known; without it the mappings
        name the node by its number (``csIdPub``) alone."""
        ids = self.report.accounts.get(account.id)
        return {"cs_id": ids["cs_id"]} if ids else {}

    def _align_hierarchy(
        self,
        account: Account,
        read: Mapping[str, Any],
        parent_number: str | None,
        parent: Mapping[str, Any],
    ) -> None:
        """A node found in billing under another parent, or paying differently, is moved: the
        CRM's hierarchy is the one to push."""
        found_parent = (read.get("parent_account") or {}).get("number")
        pays = (read.get("account") or {}).get("payment_responsible")
        if found_parent == parent_number and pays == account.payment_responsible:
            return
        ids = {"cs_id": self.report.accounts[account.id]["cs_id"], **parent.get("legacy_ids", {})}
        context = {**parent, "account": account, "legacy_ids": ids}
        subject = self._account_subject(account)
        self._call("CustomerHierarchyWrite", subject, context, outcome="moved")

    def _push_info_fields(self) -> None:
        """Custom attributes billing keeps as info fields: the customer's own on its top node,
        an account's on its node. Attributes of contracts and subscribers have no place in CIL
        (info fields belong to nodes) and stay in the CRM."""
        if not self.plan.accounts:
            return
        table = self.mappings.enum_tables.get("info_fields")
        per_node: dict[str, dict[str, Any]] = {}
        for key, values in self.plan.attributes.items():
            kind, _, entity_id = key.partition(":")
            if kind == "customer" and entity_id == self.plan.customer.id:
                node = self.plan.accounts[0].id
            elif kind == "account" and entity_id in self.accounts:
                node = entity_id
            else:
                continue
            carried = {
                name: value
                for name, value in values.items()
                if table is not None and name in table.to_legacy
            }
            per_node.setdefault(node, {}).update(carried)
        for account in self.plan.accounts:
            attributes = per_node.get(account.id)
            if not attributes:
                continue
            context = {
                "account": account,
                "attributes": attributes,
                "legacy_ids": self._node_ids(account),
            }
            self._call(
                "CustomerInfoWrite",
                self._account_subject(account),
                context,
                outcome=f"set {', '.join(sorted(attributes))}",
            )

    def _reach_node_status(self, account: Account) -> None:
        target = _node_status(self.plan.customer, account)
        current = self.node_status[account.id]
        subject = self._account_subject(account)
        try:
            steps = _path(NODE_TRANSITIONS, current, target)
        except ValueError as exc:
            raise self._failed("CustomerWrite", subject, MISMATCH, str(exc), sent=False) from None
        for status in steps:
            context = {
                "account": {"number": account.number},
                "customer": {"status": status.value},
                "legacy_ids": {"cs_id": self.report.accounts[account.id]["cs_id"]},
            }
            self._call("CustomerWrite", subject, context, outcome=f"status {status.value}")
            self.node_status[account.id] = status

    # ------------------------------------------------------------------ contracts

    def _contract_order(self, contract: Contract) -> tuple[bool, int, str]:
        live = contract.status is not ContractStatus.DEACTIVATED
        place = self.position.get(contract.account_id, len(self.position))
        return (live, place, contract.number)

    def _subscriber_of(self, contract: Contract) -> Subscriber | None:
        """The contract's number for billing: a BSCS contract has one, so the live subscriber
        (the first by MSISDN if several; the others are reported as skipped)."""
        mine = sorted(
            (s for s in self.plan.subscribers if s.contract_id == contract.id),
            key=lambda s: (s.status is SubscriberStatus.DEACTIVATED, s.msisdn),
        )
        for other in mine[1:]:
            self.report.skipped.append(
                Skipped(
                    Subject("subscriber", other.id, f"subscriber {other.msisdn}"),
                    f"a BSCS contract has one number; contract {contract.number} is pushed "
                    f"with {mine[0].msisdn}",
                )
            )
        return mine[0] if mine else None

    def _check_numbers(self) -> None:
        """Refuse before the first call a contract that has no number: ContractNew needs one,
        and stopping half-way would leave the customer half in billing."""
        with_number = {s.contract_id for s in self.plan.subscribers}
        for contract in self.plan.contracts:
            if contract.id not in with_number:
                raise self._failed(
                    "ContractNew",
                    Subject("contract", contract.id, f"contract {contract.number}"),
                    NO_NUMBER,
                    "the contract has no subscriber, and billing needs its MSISDN",
                    sent=False,
                )

    def _push_contract(self, contract: Contract) -> None:
        subject = Subject("contract", contract.id, f"contract {contract.number}")
        account = self.accounts.get(contract.account_id)
        if account is None:
            raise self._failed(
                "ContractNew",
                subject,
                MISMATCH,
                "the contract's account is not the customer's",
                sent=False,
            )
        subscriber = self._subscriber_of(contract)
        cs_id = self.report.accounts[account.id]["cs_id"]
        context = {
            "account": account,
            "contract": contract,
            "subscriber": subscriber,
            "legacy_ids": {"cs_id": cs_id},
        }
        discounts = self._discounts_of(contract)
        existing: dict[str, dict[str, Any]] = {}
        status: ContractStatus
        try:
            created = self._call(
                "ContractNew",
                subject,
                context,
                outcome="created",
                tolerate=frozenset({DUPLICATE, NUMBER_IN_USE}),
            )
        except _Refused as refused:
            # Billing checks the number before the public id: a contract pushed before may
            # answer either code. Only reading it back tells "already in billing" from "the
            # number is someone else's".
            status = self._read_contract(contract, account, subject, refused.fault)
            self._unverified_discounts(discounts, contract)
            existing = self._services_in_billing(contract, subject, status)
        else:
            self.report.contracts[contract.id] = dict(created["legacy_ids"])
            status = (
                contract.status
                if contract.status in (ContractStatus.ON_HOLD, ContractStatus.ACTIVE)
                else ContractStatus.ON_HOLD
            )
            self._push_discounts(discounts, contract)
        self._push_services(contract, subscriber, existing)
        self._reach_contract_status(contract, status, subject)

    def _read_contract(
        self, contract: Contract, account: Account, subject: Subject, refused: BusinessFault
    ) -> ContractStatus:
        """A contract ContractNew refused as taken: its ids and status if billing has it (on
        the wrong node it cannot be fixed, as CIL moves no contract; with another rate plan
        it is changed), else the refusal stands."""
        try:
            read = self._call(
                "ContractRead",
                subject,
                {"contract": contract},
                outcome="read",
                tolerate=frozenset({NO_CONTRACT}),
            )
        except _Refused:
            raise self._failed(
                "ContractNew", subject, refused.code, refused.fault_message, refused
            ) from refused
        ids = read["legacy_ids"]
        self.report.contracts[contract.id] = {"co_id": ids["co_id"], "co_id_pub": ids["co_id_pub"]}
        owner = read.get("account", {}).get("number")
        if owner != account.number:
            raise self._failed(
                "ContractNew",
                subject,
                MISMATCH,
                f"billing has the contract on node {owner}, the CRM on account {account.number}",
            )
        status = ContractStatus(read["contract"]["status"])
        if (
            read["contract"].get("rate_plan") != contract.rate_plan.upper()
            and status is not ContractStatus.DEACTIVATED
        ):
            context = {
                "contract": {"number": contract.number, "rate_plan": contract.rate_plan},
                "legacy_ids": {"co_id": ids["co_id"]},
            }
            self._call("ContractWrite", subject, context, outcome=f"rate plan {contract.rate_plan}")
        return status

    def _reach_contract_status(
        self, contract: Contract, current: ContractStatus, subject: Subject
    ) -> None:
        try:
            steps = _path(CONTRACT_TRANSITIONS, current, contract.status)
        except ValueError as exc:
            raise self._failed("ContractWrite", subject, MISMATCH, str(exc), sent=False) from None
        for status in steps:
            context = {
                "contract": {"number": contract.number, "status": status.value},
                "params": {"reason": self._reason(contract, status)},
                "legacy_ids": {"co_id": self.report.contracts[contract.id]["co_id"]},
            }
            self._call("ContractWrite", subject, context, outcome=f"status {status.value}")

    @staticmethod
    def _reason(contract: Contract, status: ContractStatus) -> str:
        """The reason the CRM recorded for reaching ``status`` last, so billing's history
        tells the same story."""
        for change in reversed(contract.status_history):
            if change.status is status and change.reason:
                return change.reason
        return DEFAULT_REASON

    # ------------------------------------------------------------------ services

    def _services_in_billing(
        self, contract: Contract, subject: Subject, status: ContractStatus
    ) -> dict[str, dict[str, Any]]:
        """The services a contract found in billing already has, by code: their ids, and only
        those that still count (not deactivated, unless the whole contract is, which then
        keeps them as they are: billing changes nothing on a deactivated contract)."""
        read = self._call(
            "ContractServicesRead",
            subject,
            {"contract": {"number": contract.number}},
            outcome="read",
        )
        ids = {i["service_code"]: i for i in read.get("legacy_ids", {}).get("services", [])}
        closed = status is ContractStatus.DEACTIVATED
        return {
            s["service_code"]: ids[s["service_code"]]
            for s in read.get("services", [])
            if s["service_code"] in ids
            and (closed or s.get("status") != ServiceStatus.DEACTIVATED.value)
        }

    def _push_services(
        self,
        contract: Contract,
        subscriber: Subscriber | None,
        existing: Mapping[str, Mapping[str, Any]],
    ) -> None:
        to_add: list[ServiceAssignment] = []
        for service in self.plan.services:
            if service.contract_id != contract.id:
                continue
            subject = self._service_subject(service, contract)
            if service.status is ServiceStatus.DEACTIVATED:
                self.report.skipped.append(Skipped(subject, "deactivated"))
            elif service.subscriber_id not in (None, subscriber.id if subscriber else None):
                self.report.skipped.append(
                    Skipped(subject, "on a subscriber that is not the contract's number in billing")
                )
            elif service.service_code in existing:
                found = existing[service.service_code]
                self.report.services[service.id] = {
                    "sn_code": found["sn_code"],
                    "sn_code_pub": found["sn_code_pub"],
                }
            else:
                to_add.append(service)
        subject = Subject("contract", contract.id, f"services of contract {contract.number}")
        for start in range(0, len(to_add), MAX_SERVICES):
            chunk = to_add[start : start + MAX_SERVICES]
            context = {
                "contract": {"number": contract.number},
                "services": chunk,
                "legacy_ids": {"co_id": self.report.contracts[contract.id]["co_id"]},
            }
            result = self._call("ContractServicesAdd", subject, context, outcome="added")
            added = {i["service_code"]: i for i in result["legacy_ids"].get("services", [])}
            for service in chunk:
                found = added[service.service_code]
                self.report.services[service.id] = {
                    "sn_code": found["sn_code"],
                    "sn_code_pub": found["sn_code_pub"],
                }

    @staticmethod
    def _service_subject(service: ServiceAssignment, contract: Contract) -> Subject:
        return Subject(
            "service_assignment",
            service.id,
            f"service {service.service_code} on contract {contract.number}",
        )

    # ------------------------------------------------------------------ discounts

    def _contract_id_of(self, discount: DiscountAssignment) -> str | None:
        """The contract a contract- or subscriber-level discount goes to (BSCS has no
        subscriber level: a contract is one subscriber)."""
        if discount.level is AssignmentLevel.ACCOUNT:
            return None
        if discount.contract_id:
            return discount.contract_id
        return self.contract_of_subscriber.get(discount.subscriber_id or "")

    def _discounts_of(self, owner: Account | Contract) -> list[DiscountAssignment]:
        if isinstance(owner, Account):
            return [
                d
                for d in self.discounts
                if d.level is AssignmentLevel.ACCOUNT and d.account_id == owner.id
            ]
        return [d for d in self.discounts if self._contract_id_of(d) == owner.id]

    def _discount_subject(self, discount: DiscountAssignment) -> Subject:
        contract_id = self._contract_id_of(discount)
        contract = next((c for c in self.plan.contracts if c.id == contract_id), None)
        account = self.accounts.get(discount.account_id)
        where = (
            f"contract {contract.number}"
            if contract is not None
            else f"account {account.number if account else discount.account_id}"
        )
        label = f"{discount.discount_kind} {discount.code} on {where}"
        return Subject("discount_assignment", discount.id, label)

    def _push_discounts(
        self, discounts: Iterable[DiscountAssignment], owner: Account | Contract
    ) -> None:
        for discount in discounts:
            context: dict[str, Any] = {"discount": discount}
            if isinstance(owner, Account):
                context |= {"account": owner, "legacy_ids": self.report.accounts[owner.id]}
            else:
                context |= {"contract": owner, "legacy_ids": self.report.contracts[owner.id]}
            subject = self._discount_subject(discount)
            result = self._call("DiscountAssign", subject, context, outcome="assigned")
            self.report.discounts[discount.id] = dict(result["legacy_ids"])

    def _unverified_discounts(
        self, discounts: Iterable[DiscountAssignment], owner: Account | Contract
    ) -> None:
        what = "node" if isinstance(owner, Account) else "contract"
        for discount in discounts:
            self.report.unverified.append(
                Skipped(
                    self._discount_subject(discount),
                    f"the {what} {owner.number} was already in billing and CIL cannot read "
                    "discounts: not sent again, so as not to assign it twice; check it there",
                )
            )


# ----------------------------------------------------------------------------------- one step


@dataclass(frozen=True)
class Slice:
    """The few stored entities one outbox message needs, as of that message's change: the
    plan of a push of those entities only. ``known`` holds billing's ids already linked to
    canonical ids (``accounts``/``contracts``/``services``/``discounts`` → id → ids), so that
    a step can name a parent node or a contract billing already has."""

    customer: Customer
    accounts: list[Account] = field(default_factory=list)  # parents before children
    outside_parents: dict[str, str] = field(default_factory=dict)
    contracts: list[Contract] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)
    services: list[ServiceAssignment] = field(default_factory=list)
    discounts: list[DiscountAssignment] = field(default_factory=list)
    attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # as in _Plan
    known: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)


class StepPusher(_Pusher):
    """The per-entity steps of :func:`push_customer`, one at a time, for the outbox drain
    (``adapter.sync``): the same calls, tolerated duplicates and read-backs as a whole push,
    so that a message sent twice (a crash after billing answered) reads the object back
    instead of creating it again. Each step raises :class:`PushFailed` as a push does; the
    ids billing gave are in :attr:`report` (with the ``known`` ones it started from)."""

    def __init__(self, gateway: Gateway, mappings: Mappings, part: Slice) -> None:
        plan = _Plan(
            customer=part.customer,
            accounts=list(part.accounts),
            outside_parents=dict(part.outside_parents),
            contracts=list(part.contracts),
            subscribers=list(part.subscribers),
            services=list(part.services),
            discounts=list(part.discounts),
            attributes={key: dict(values) for key, values in part.attributes.items()},
        )
        super().__init__(gateway, mappings, plan)
        for name, ids in self.report.legacy_ids.items():
            ids.update({k: dict(v) for k, v in part.known.get(name, {}).items()})

    def push_account(self, account: Account) -> None:
        """``CustomerNew`` (or the read-back of a node billing already has) and the node's
        account-level discounts of the slice."""
        self._push_account(account)

    def push_contract(self, contract: Contract) -> None:
        """``ContractNew`` with its subscriber, then the slice's discounts and services of
        the contract and the status steps a whole push would make."""
        self._push_contract(contract)

    def push_services(self, contract: Contract, subscriber: Subscriber | None) -> None:
        """``ContractServicesAdd`` for the slice's services of ``contract``."""
        self._push_services(contract, subscriber, {})

    def push_discount(self, discount: DiscountAssignment, owner: Account | Contract) -> None:
        """``DiscountAssign`` of one discount on its node or contract."""
        self._push_discounts([discount], owner)

    def write_contract(self, contract: Contract, fields: Iterable[str]) -> None:
        """``ContractWrite`` of what a change of a contract billing has changed: its status
        (with the reason the CRM recorded for it) and/or its rate plan."""
        changed = set(fields)
        values: dict[str, Any] = {"number": contract.number}
        context: dict[str, Any] = {"contract": values}
        outcome = []
        if "status" in changed:
            values["status"] = contract.status.value
            context["params"] = {"reason": self._reason(contract, contract.status)}
            outcome.append(f"status {contract.status.value}")
        if "rate_plan" in changed:
            values["rate_plan"] = contract.rate_plan
            outcome.append(f"rate plan {contract.rate_plan}")
        ids = self.report.contracts.get(contract.id)
        if ids:
            context["legacy_ids"] = {"co_id": ids["co_id"]}
        subject = Subject("contract", contract.id, f"contract {contract.number}")
        self._call("ContractWrite", subject, context, outcome=", ".join(outcome))

    def write_customer(self, changed: Mapping[str, Any], node: Account) -> None:
        """``CustomerWrite`` of changed customer data (``changed``: field → new value, as
        stored) on one node; a status is sent as the node's (the stricter of the customer's
        and the account's, as a push does)."""
        values = dict(changed)
        if "status" in values:
            values["status"] = _node_status(self.plan.customer, node).value
        context: dict[str, Any] = {"customer": values, "account": {"number": node.number}}
        ids = self.report.accounts.get(node.id)
        if ids:
            context["legacy_ids"] = {"cs_id": ids["cs_id"]}
        outcome = f"set {', '.join(sorted(values))}"
        self._call("CustomerWrite", self._account_subject(node), context, outcome=outcome)

    def write_node(self, account: Account, fields: Iterable[str]) -> None:
        """``CustomerWrite`` of an account's own billing data (``fields``: those of bill
        cycle, payment method, credit limit and status that changed). The data go in one
        call; a status is reached from the one billing reports (read back) along the allowed
        node transitions, so that a resend finds it reached and sends nothing more. A field
        cleared in the CRM cannot be: CustomerData sends only values (an absent element
        changes nothing), so that is refused rather than left unsent."""
        changed = set(fields)
        subject = self._account_subject(account)
        data = sorted(changed - {"status"})
        cleared = [name for name in data if getattr(account, name) is None]
        if cleared:
            raise self._failed(
                "CustomerWrite",
                subject,
                MAPPING_FAILED,
                f"{', '.join(cleared)} cleared in the CRM: CIL CustomerWrite cannot clear a "
                "value, only set one",
                sent=False,
            )
        if data:
            values = account.model_dump(mode="json", include=set(data))
            context = {
                "account": {"number": account.number, **values},
                "legacy_ids": self._node_ids(account),
            }
            self._call("CustomerWrite", subject, context, outcome=f"set {', '.join(data)}")
        if "status" in changed:
            self._read_node(account, subject)
            self._reach_node_status(account)

    def write_hierarchy(self, account: Account) -> None:
        """``CustomerHierarchyWrite`` of a node moved or whose payment responsibility changed:
        the node is read back and moved only when billing holds it differently, so a resend
        changes nothing."""
        subject = self._account_subject(account)
        parent_number, parent = self._parent_context(account)
        read = self._read_node(account, subject)
        self._align_hierarchy(account, read, parent_number, parent)

    def write_addresses(self, node: Account) -> None:
        """``AddressWrite`` calls that bring a node's addresses in billing to the customer's
        stored ones. BSCS numbers its addresses (``adrSeq``) and CIL changes one at a time, so
        the node is read back and compared: an address billing has as stored (same content
        and roles) stays; one whose content or roles differ is updated in place, preferring
        one of the same content; the rest are deleted or added. Equal addresses that differ
        only in role are one BSCS address with several roles, as ``CustomerNew`` sends them.
        A resend finds billing as stored and makes no call."""
        subject = self._account_subject(node)
        read = self._read_node(node, subject)
        split = read.get("customer", {}).get("addresses", [])
        numbers = read.get("legacy_ids", {}).get("addresses", [])
        if len(split) != len(numbers):
            raise self._failed(
                "AddressWrite",
                subject,
                MAPPING_FAILED,
                "CustomerRead gave the node's addresses and their numbers in different counts",
                sent=False,
            )
        billing: dict[int, tuple[str, dict[str, Any], list[str]]] = {}
        for address, numbered in zip(split, numbers, strict=True):
            key, content = _address_content(address)
            seq = int(numbered["adr_seq"])
            roles = billing.setdefault(seq, (key, content, []))[2]
            roles.append(str(address["role"]))
        wanted: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for stored in self.plan.customer.addresses:
            key, content = _address_content(stored.model_dump(mode="json"))
            roles = wanted.setdefault(key, (content, []))[1]
            if stored.role.value not in roles:
                roles.append(stored.role.value)
        spare = sorted(billing)  # billing's addresses not (yet) matched to a stored one
        to_write: list[tuple[str, dict[str, Any], list[str]]] = []
        for key, (content, roles) in wanted.items():
            same = [s for s in spare if billing[s][0] == key and set(billing[s][2]) == set(roles)]
            if same:
                spare.remove(same[0])
            else:
                to_write.append((key, content, roles))
        pairs: list[tuple[int | None, dict[str, Any], list[str]]] = []
        for key, content, roles in list(to_write):  # first, addresses whose roles changed
            same = [seq for seq in spare if billing[seq][0] == key]
            if same:
                spare.remove(same[0])
                to_write.remove((key, content, roles))
                pairs.append((same[0], content, roles))
        for _key, content, roles in to_write:  # then any other address billing can spare
            pairs.append((spare.pop(0) if spare else None, content, roles))
        for number, content, roles in pairs:
            action = "add" if number is None else "update"
            self._write_address(node, subject, action, number, content, roles)
        for seq in spare:
            _, content, roles = billing[seq]
            self._write_address(node, subject, "delete", seq, content, roles)

    def _write_address(
        self,
        node: Account,
        subject: Subject,
        action: str,
        seq: int | None,
        content: Mapping[str, Any],
        roles: list[str],
    ) -> None:
        ids = self._node_ids(node) | ({"adr_seq": seq} if seq is not None else {})
        context = {
            "account": {"number": node.number},
            "legacy_ids": ids,
            "params": {"action": action},
            "address": {**content, "role": roles},
        }
        where = f" {seq}" if seq is not None else ""
        self._call("AddressWrite", subject, context, outcome=f"{action} address{where}")

    def write_info_fields(self) -> None:
        """``CustomerInfoWrite`` of the slice's custom attributes billing keeps as info fields
        (``None`` removes one), as a whole push sends them; attributes the ``info_fields``
        table does not list stay in the CRM, with no call. Setting or removing a field twice
        is the same, so a resend needs no read-back."""
        self._push_info_fields()

    def write_service(
        self, contract: Contract, service: ServiceAssignment, fields: Iterable[str]
    ) -> None:
        """``ContractServicesWrite`` of one service as stored: status, parameters and limits
        (billing replaces its lists with those sent), named by its ``snCode`` when known.
        Sending the same state twice is no change in billing, except a deactivation, which
        billing then refuses (nothing leaves ``D``): that refusal is accepted when reading the
        contract's services back shows the service no longer live. A list emptied in the CRM
        cannot be sent (the mapping writes no element for an empty list, and billing keeps
        its list then), so that is refused rather than left unsent (``fields``: those the
        change wrote)."""
        subject = self._service_subject(service, contract)
        changed = set(fields)
        emptied = [
            name
            for name in ("parameters", "limits")
            if name in changed and not getattr(service, name)
        ]
        if emptied and service.status is not ServiceStatus.DEACTIVATED:
            raise self._failed(
                "ContractServicesWrite",
                subject,
                MAPPING_FAILED,
                f"the service's {' and '.join(emptied)} would have to be emptied in billing, "
                "and the mapping sends no empty list",
                sent=False,
            )
        ids: dict[str, Any] = {}
        if contract.id in self.report.contracts:
            ids["co_id"] = self.report.contracts[contract.id]["co_id"]
        if service.id in self.report.services:
            ids["sn_code"] = self.report.services[service.id]["sn_code"]
        context = {
            "contract": {"number": contract.number},
            "service": service,
            "legacy_ids": ids,
        }
        closing = service.status is ServiceStatus.DEACTIVATED
        tolerate = frozenset({SERVICE_NOT_ON, SERVICE_STATUS}) if closing else frozenset()
        outcome = f"status {service.status.value}, parameters and limits"
        try:
            self._call(
                "ContractServicesWrite", subject, context, outcome=outcome, tolerate=tolerate
            )
        except _Refused as refused:
            live = self._services_in_billing(contract, subject, ContractStatus.ACTIVE)
            if service.service_code in live:
                raise self._failed(
                    "ContractServicesWrite",
                    subject,
                    refused.fault.code,
                    refused.fault.fault_message,
                    refused.fault,
                ) from refused

    def remove_discount(self, discount: DiscountAssignment) -> None:
        """``DiscountRemove`` of an assignment billing has (its ``assignId`` linked when it
        was assigned). ``CMS.RC6752`` (removed before) is a resend of this removal: done."""
        subject = self._discount_subject(discount)
        ids = self.report.discounts.get(discount.id)
        if not ids:
            raise self._failed(
                "DiscountRemove",
                subject,
                MISMATCH,
                "billing's assignId of the discount is not known (it was never assigned there "
                "by the sync): nothing to remove; check billing",
                sent=False,
            )
        context = {"legacy_ids": {"assign_id": ids["assign_id"]}}
        # a refusal as removed before: an earlier send of this message, whose record was lost
        with contextlib.suppress(_Refused):
            self._call(
                "DiscountRemove",
                subject,
                context,
                outcome="removed",
                tolerate=frozenset({ALREADY_REMOVED}),
            )


_ADDRESS_CONTENT = ("lines", "postcode", "city", "region", "country")


def _address_content(address: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """An address without role and validity (CIL has neither per address), and a key that
    compares two such contents."""
    content = {name: address[name] for name in _ADDRESS_CONTENT if address.get(name) is not None}
    return json.dumps(content, sort_keys=True), content
