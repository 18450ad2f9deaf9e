"""The payload of each request operation: one command model per operation.

Commands are imperative (``CreateCustomer``, ``AssignDiscount``) and validate only the shape of
what a provisioning system sends; rules that need stored state (a customer number already
taken, a transition a contract may not make) belong to the domain and the unit of work, which
report them the same way. Parts shared with the canonical model (addresses, identifications,
contact persons, limits, money) are the domain's own models, so a payload is refused for the
same reasons a stored entity would be.

Entities are named as a person or a provisioning system names them: a customer by id or
customer number, an account by id or number, a contract by id or number, a subscriber by id or
MSISDN; services, discounts and suppressions by the id the adapter returned (or that the
creating request chose).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from adapter.domain.attributes import AttributeName, AttributeTarget, JsonScalar
from adapter.domain.model import (
    Address,
    AssignmentLevel,
    Code,
    ContactMedium,
    ContactPerson,
    Currency,
    CustomerNumber,
    CustomerStatus,
    Iccid,
    Identification,
    Imsi,
    Money,
    Msisdn,
    Name,
    NonNegative,
    Party,
    PaymentMethod,
    Ref,
    ServiceLimit,
    SuppressionScope,
)

Reason = Annotated[str, Field(min_length=1, max_length=500)]
ParameterValue = Annotated[str, Field(max_length=256)]
BillCycle = Annotated[str, Field(min_length=1, max_length=8)]
Segment = Annotated[str, Field(min_length=1, max_length=32)]


class Target(NamedTuple):
    """An entity a request names: its kind and the reference the request gives (an id, or a
    number / MSISDN for customers, accounts, contracts and subscribers)."""

    kind: str
    ref: str


class Part(BaseModel):
    """A piece of a payload: closed to unknown fields, text stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Command(Part):
    """Base of every payload. ``versioned`` says whether the operation changes an existing
    entity, the one an envelope's ``expected_version`` is checked against."""

    versioned: ClassVar[bool] = False
    _expected_version: int | None = PrivateAttr(default=None)

    @property
    def expected_version(self) -> int | None:
        """The envelope's ``expected_version``, handed over by the envelope (it is not part of
        the payload): the handler checks it against the entity it loads."""
        return self._expected_version

    def with_expected_version(self, version: int | None) -> None:
        self._expected_version = version

    def target(self) -> Target | None:
        """The stored entity the request acts on or under; the customer it belongs to orders
        the request (None: the payload names no stored entity)."""
        return None


# ------------------------------------------------------------------------------ customers


class NewAccount(Part):
    """The first account (billing node) of a new customer."""

    id: Ref | None = None
    number: CustomerNumber
    name: Name
    payment_responsible: bool = True
    bill_cycle: BillCycle | None = None
    payment_method: PaymentMethod = PaymentMethod.INVOICE
    credit_limit: Money | None = None
    attributes: dict[AttributeName, JsonScalar] = Field(default_factory=dict)


class CreateCustomer(Command):
    """A new customer (individual or organisation) with addresses, identifications, contact
    media and persons, custom attribute values and optionally its first account. Without
    ``id`` the customer's id is derived from the request id (so a request's customer is known
    before it is applied, which orders later requests for it)."""

    id: Ref | None = None
    customer_number: CustomerNumber
    status: CustomerStatus = CustomerStatus.ACTIVE
    segment: Segment = "residential"
    party: Party
    identifications: list[Identification] = Field(default_factory=list)
    contact_media: list[ContactMedium] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    contact_persons: list[ContactPerson] = Field(default_factory=list)
    attributes: dict[AttributeName, JsonScalar] = Field(default_factory=dict)
    account: NewAccount | None = None

    def customer_id(self, request_id: str) -> str:
        return self.id or derived_id(request_id, "customer")


class CustomerPatch(Part):
    """A JSON merge patch (RFC 7386) of a customer's data: objects merge, lists replace, null
    empties. Only the fields named here can be patched (the id cannot)."""

    customer_number: CustomerNumber | None = None
    status: CustomerStatus | None = None
    segment: Segment | None = None
    party: dict[str, Any] | None = None
    identifications: list[dict[str, Any]] | None = None
    contact_media: list[dict[str, Any]] | None = None
    addresses: list[dict[str, Any]] | None = None
    contact_persons: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> CustomerPatch:
        if not self.model_fields_set:
            raise ValueError("the patch changes nothing; give at least one field")
        return self

    def as_merge_patch(self) -> dict[str, Any]:
        """The fields the sender gave, nulls included (a null empties the field)."""
        return self.model_dump(mode="json", exclude_unset=True)


class UpdateCustomer(Command):
    versioned: ClassVar[bool] = True

    customer: Ref
    patch: CustomerPatch

    def target(self) -> Target:
        return Target("customer", self.customer)


class AddContactPerson(Command):
    versioned: ClassVar[bool] = True

    customer: Ref
    contact_person: ContactPerson

    def target(self) -> Target:
        return Target("customer", self.customer)


class RemoveContactPerson(Command):
    versioned: ClassVar[bool] = True

    customer: Ref
    contact_person_id: Ref

    def target(self) -> Target:
        return Target("customer", self.customer)


# ------------------------------------------------------------------------------- accounts


class CreateAccount(Command):
    """A new account of ``customer``, under ``parent`` when given (a parent of another
    customer is allowed: corporate groups span legal entities)."""

    customer: Ref
    id: Ref | None = None
    number: CustomerNumber
    name: Name
    parent: Ref | None = None
    payment_responsible: bool = True
    bill_cycle: BillCycle | None = None
    payment_method: PaymentMethod = PaymentMethod.INVOICE
    credit_limit: Money | None = None
    attributes: dict[AttributeName, JsonScalar] = Field(default_factory=dict)

    def target(self) -> Target:
        return Target("customer", self.customer)


class MoveAccount(Command):
    """Move an account with its subtree under ``parent``; ``parent`` must be given, null
    making the account a root (so that forgetting it cannot uproot a subtree)."""

    versioned: ClassVar[bool] = True

    account: Ref
    parent: Ref | None

    def target(self) -> Target:
        return Target("account", self.account)


class SetPaymentResponsibility(Command):
    versioned: ClassVar[bool] = True

    account: Ref
    payment_responsible: bool

    def target(self) -> Target:
        return Target("account", self.account)


# ------------------------------------------------------------------------------ contracts


class NewSubscriber(Part):
    id: Ref | None = None
    msisdn: Msisdn
    imsi: Imsi | None = None
    iccid: Iccid | None = None
    listing_groups: list[Code] = Field(default_factory=list)
    attributes: dict[AttributeName, JsonScalar] = Field(default_factory=dict)


class CreateContract(Command):
    """A contract on ``account`` with its subscriber and rate plan; ``status`` ``active``
    activates it at once (recorded as a status change)."""

    account: Ref
    id: Ref | None = None
    number: CustomerNumber
    rate_plan: Code
    sales_application_number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    status: Literal["on_hold", "active"] = "on_hold"
    subscriber: NewSubscriber
    attributes: dict[AttributeName, JsonScalar] = Field(default_factory=dict)

    def target(self) -> Target:
        return Target("account", self.account)


ContractAction = Literal["activate", "suspend", "reactivate", "deactivate"]


class ChangeContractStatus(Command):
    """``activate`` (on hold → active), ``suspend`` (active → suspended), ``reactivate``
    (suspended → active), ``deactivate`` (any but deactivated → deactivated)."""

    versioned: ClassVar[bool] = True

    contract: Ref
    action: ContractAction
    reason: Reason | None = None

    def target(self) -> Target:
        return Target("contract", self.contract)


# ------------------------------------------------------------------------------- services


class AddService(Command):
    """A service on a contract (``subscriber`` given: on that subscriber of it)."""

    contract: Ref
    subscriber: Ref | None = None
    id: Ref | None = None
    service_code: Code
    status: Literal["active", "suspended"] = "active"
    parameters: dict[Code, ParameterValue] = Field(default_factory=dict)
    limits: list[ServiceLimit] = Field(default_factory=list)
    valid_from: date | None = None
    valid_to: date | None = None

    def target(self) -> Target:
        return Target("contract", self.contract)


class ServiceCommand(Command):
    """A service named by ``service_id``, or by ``contract`` and ``service_code`` (the one of
    that code on the contract that is not deactivated)."""

    versioned: ClassVar[bool] = True

    service_id: Ref | None = None
    contract: Ref | None = None
    service_code: Code | None = None

    @model_validator(mode="after")
    def _named_once(self) -> ServiceCommand:
        by_id = self.service_id is not None
        by_code = self.contract is not None or self.service_code is not None
        if by_id == by_code:
            raise ValueError("name the service by service_id, or by contract and service_code")
        if by_code and (self.contract is None or self.service_code is None):
            raise ValueError("contract and service_code go together")
        return self

    def target(self) -> Target:
        if self.service_id is not None:
            return Target("service_assignment", self.service_id)
        assert self.contract is not None
        return Target("contract", self.contract)


class ChangeService(ServiceCommand):
    """Change a service's status, parameters or limits. ``parameters`` and ``limits``, when
    given, replace the service's whole map or list (as billing's ContractServicesWrite does)."""

    status: Literal["active", "suspended"] | None = None
    parameters: dict[Code, ParameterValue] | None = None
    limits: list[ServiceLimit] | None = None
    valid_to: date | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> ChangeService:
        if not ({"status", "parameters", "limits", "valid_to"} & self.model_fields_set):
            raise ValueError("give at least one of status, parameters, limits, valid_to")
        return self


class RemoveService(ServiceCommand):
    """Deactivate a service (it stays in the record, as in billing); ``valid_to`` defaults to
    the day it is applied."""

    valid_to: date | None = None


# ------------------------------------------------------------------------------ discounts


class AssignDiscount(Command):
    """A discount or promotion on an account (inherited by its subtree unless ``inherited``
    is false), a contract or a subscriber: ``level`` says which, and that reference is
    given."""

    level: AssignmentLevel
    account: Ref | None = None
    contract: Ref | None = None
    subscriber: Ref | None = None
    id: Ref | None = None
    discount_kind: Literal["discount", "promotion"] = "discount"
    code: Code
    value: NonNegative
    value_type: Literal["percent", "amount"] = "percent"
    currency: Currency | None = None
    inherited: bool = True
    valid_from: date | None = None
    valid_to: date | None = None

    @model_validator(mode="after")
    def _one_target(self) -> AssignDiscount:
        given = {
            name
            for name in ("account", "contract", "subscriber")
            if getattr(self, name) is not None
        }
        if given != {self.level.value}:
            raise ValueError(
                f"level {self.level.value} needs {self.level.value} and no other reference"
            )
        return self

    def target(self) -> Target:
        ref = getattr(self, self.level.value)
        return Target(self.level.value, str(ref))


class RemoveDiscount(Command):
    """Remove a discount or promotion assignment (kept in the record as removed)."""

    versioned: ClassVar[bool] = True

    discount_id: Ref

    def target(self) -> Target:
        return Target("discount_assignment", self.discount_id)


# --------------------------------------------------------------------------- suppressions


class SuppressionTarget(Command):
    """What a listing suppression hides: a subscriber, an account (with its subtree) or a
    named listing group; the reference for ``scope_type`` and nothing else is given."""

    scope_type: SuppressionScope
    subscriber: Ref | None = None
    account: Ref | None = None
    group_name: Code | None = None

    @model_validator(mode="after")
    def _one_target(self) -> SuppressionTarget:
        wanted = {
            SuppressionScope.SUBSCRIBER: "subscriber",
            SuppressionScope.ACCOUNT: "account",
            SuppressionScope.GROUP: "group_name",
        }[self.scope_type]
        given = {
            name
            for name in ("subscriber", "account", "group_name")
            if getattr(self, name) is not None
        }
        if given != {wanted}:
            raise ValueError(
                f"scope_type {self.scope_type.value} needs {wanted} and no other reference"
            )
        return self

    def target(self) -> Target | None:
        if self.subscriber is not None:
            return Target("subscriber", self.subscriber)
        if self.account is not None:
            return Target("account", self.account)
        return None  # a group spans customers: no customer orders it


class SetListingSuppression(SuppressionTarget):
    """Suppress listings of the target. An active suppression of the same target is updated
    (its reason and validity) rather than doubled."""

    id: Ref | None = None
    reason: Reason
    valid_from: date | None = None
    valid_to: date | None = None


class ClearListingSuppression(Command):
    """Clear the suppression ``suppression_id``, or every active one of a target."""

    versioned: ClassVar[bool] = True

    suppression_id: Ref | None = None
    of: SuppressionTarget | None = None

    @model_validator(mode="after")
    def _named_once(self) -> ClearListingSuppression:
        if (self.suppression_id is None) == (self.of is None):
            raise ValueError("give suppression_id or of (the suppressed target), not both")
        return self

    def target(self) -> Target | None:
        if self.suppression_id is not None:
            return Target("listing_suppression", self.suppression_id)
        assert self.of is not None
        return self.of.target()


# ------------------------------------------------------------------- attributes, restore


class SetAttributes(Command):
    """Set custom attribute values on an entity; a null value clears that attribute."""

    entity_kind: AttributeTarget
    entity: Ref
    values: Annotated[dict[AttributeName, JsonScalar], Field(min_length=1, max_length=64)]

    def target(self) -> Target:
        return Target(self.entity_kind.value, self.entity)


class RestoreVersion(Command):
    """Make version ``version`` of an entity (or only its dotted ``field``) current again, as
    a new change. ``entity`` is an id, or a number / MSISDN for the four kinds named so."""

    versioned: ClassVar[bool] = True

    kind: Annotated[str, Field(min_length=1, max_length=32)]
    entity: Ref
    version: Annotated[int, Field(ge=1)]
    field: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    def target(self) -> Target:
        return Target(self.kind, self.entity)


# ------------------------------------------------------------------------------ billing

ResyncKind = Literal["customer", "account", "contract", "service_assignment"]
ResyncField = Literal[
    "party",
    "identifications",
    "contact_media",
    "segment",
    "addresses",
    "status",
    "bill_cycle",
    "payment_method",
    "credit_limit",
    "parent_id",
    "payment_responsible",
    "rate_plan",
    "parameters",
    "limits",
]
RESYNC_FIELDS: dict[str, frozenset[str]] = {
    "customer": frozenset(
        {"party", "identifications", "contact_media", "segment", "addresses", "status"}
    ),
    "account": frozenset(
        {"status", "bill_cycle", "payment_method", "credit_limit", "parent_id"}
        | {"payment_responsible"}
    ),
    "contract": frozenset({"status", "rate_plan"}),
    "service_assignment": frozenset({"status", "parameters", "limits"}),
}


class ResyncToBilling(Command):
    """Send an entity's current state to billing again without changing it in the CRM (the
    CRM is the master; reconciliation repairs drift with it): ``fields`` of the entity as a
    change of them would (``CustomerWrite``, ``CustomerHierarchyWrite``, ``ContractWrite``,
    ``ContractServicesWrite``), or, with ``as_new``, the whole entity as its creation would
    (``CustomerNew``, ``ContractNew`` with its subscriber, ``ContractServicesAdd``)."""

    kind: ResyncKind
    entity: Ref
    fields: list[ResyncField] = Field(default_factory=list, max_length=14)
    as_new: bool = False
    reason: Reason | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ResyncToBilling:
        if self.as_new:
            if self.fields:
                raise ValueError("as_new sends the whole entity: give no fields")
            if self.kind == "customer":
                raise ValueError("a customer reaches billing as new with its accounts")
            return self
        if not self.fields:
            raise ValueError("give the fields to send again, or as_new")
        wrong = sorted(set(self.fields) - RESYNC_FIELDS[self.kind])
        if wrong:
            known = ", ".join(sorted(RESYNC_FIELDS[self.kind]))
            named = ", ".join(wrong)
            raise ValueError(f"a {self.kind} has no field {named} that billing keeps ({known})")
        return self

    def target(self) -> Target:
        return Target(self.kind, self.entity)


# ------------------------------------------------------------------------------------ ids

_DERIVED = uuid.UUID("5f0c7e52-2b7e-4d43-9a53-6c1f3b9f2a10")


def derived_id(request_id: str, role: str) -> str:
    """The id of the entity a request creates in ``role`` when the payload gives none: the
    same for every attempt of one request, so that the customer a ``customer.create`` will
    create is known when the request is received, and a retried request cannot make a second
    entity."""
    return str(uuid.uuid5(_DERIVED, f"{request_id}\x1f{role}"))
