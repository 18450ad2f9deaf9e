"""The canonical customer model (DESIGN section 3).

Plain pydantic models: they validate themselves and turn into JSON snapshots, and know nothing
of storage, SOAP or HTTP. Names follow TM Forum SID / Open API v4 where one exists. Every
entity has a string ``id`` and a ``kind`` (its name in the store and in history) and says
which customer, account, contract and subscriber it concerns (:meth:`Entity.scope`), so that a
timeline is one indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from uuid6 import uuid7

from adapter.domain import identifiers
from adapter.domain.errors import Conflict


def new_id() -> str:
    """A new entity's id: a UUIDv7 (RFC 9562), unique and random in its low bits but ordered
    by creation time, so that each index on an id column grows at its end rather than taking
    every new key on a random page (what made PostgreSQL's share of a load double once those
    indexes outgrew its buffers; docs/benchmarks.md, "Seeding speed")."""
    return str(uuid7())


Msisdn = Annotated[str, AfterValidator(identifiers.msisdn)]
Imsi = Annotated[str, AfterValidator(identifiers.imsi)]
Iccid = Annotated[str, AfterValidator(identifiers.iccid)]
Email = Annotated[str, AfterValidator(identifiers.email)]
Currency = Annotated[str, AfterValidator(identifiers.currency)]
Country = Annotated[str, AfterValidator(identifiers.country)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Ref = Annotated[str, Field(min_length=1, max_length=64)]
NonNegative = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Amount = Annotated[Decimal, Field(max_digits=18, decimal_places=6)]


class Validated(BaseModel):
    """Validates on construction and on every assignment; a refused assignment leaves the
    object as it was (pydantic would otherwise keep the value a model-level rule refused)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)

    def __setattr__(self, name: str, value: Any) -> None:
        before = dict(self.__dict__)
        try:
            super().__setattr__(name, value)
        except ValidationError:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise


class Part(Validated):
    """A value inside an entity (an address, a limit…): validated, no identity of its own."""


class Validity(Part):
    """A validity period; an open end means "until further notice"."""

    valid_from: date | None = None
    valid_to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class Scope:
    """What an entity concerns, written on each of its version rows."""

    customer_id: str | None = None
    account_id: str | None = None
    contract_id: str | None = None
    subscriber_id: str | None = None


class Entity(Validated):
    kind: ClassVar[str]

    id: Ref = Field(default_factory=new_id)

    def scope(self) -> Scope:
        return Scope()

    def owner(self) -> tuple[str, str, str] | None:
        """The entity this one belongs to, as (kind, id, field holding the id); its scope must
        agree with this one's (a subscriber's account is its contract's account)."""
        return None

    def snapshot(self) -> dict[str, Any]:
        """The entity's full state as JSON-compatible data (decimals and dates as strings)."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- parties


class IdentificationType(StrEnum):
    TIN = "tin"
    PERSONAL_ID = "personal_id"
    PASSPORT = "passport"
    COMPANY_REGISTRATION = "company_registration"


class Identification(Validity):
    type: IdentificationType
    value: Annotated[str, Field(min_length=1, max_length=64)]
    issuing_country: Country | None = None


class ContactMediumType(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    MOBILE = "mobile"
    FAX = "fax"


class ContactMedium(Part):
    type: ContactMediumType
    value: Annotated[str, Field(min_length=1, max_length=254)]
    preferred: bool = False

    @model_validator(mode="after")
    def _valid_value(self) -> ContactMedium:
        if self.type is ContactMediumType.EMAIL:
            normalized = identifiers.email(self.value)
        else:
            normalized = identifiers.msisdn(self.value)
        if normalized != self.value:
            # object.__setattr__ skips assignment validation, which would recurse here.
            object.__setattr__(self, "value", normalized)
        return self


class AddressRole(StrEnum):
    BILLING = "billing"  # invoice delivery
    RESIDENCE = "residence"
    REGISTRATION = "registration"  # legal seat
    CONTRACT = "contract"
    SHIPMENT = "shipment"


class Address(Validity):
    role: AddressRole
    lines: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=120)]], Field(min_length=1, max_length=4)
    ]
    postcode: Annotated[str, Field(min_length=1, max_length=16)]
    city: Name
    region: str | None = None
    country: Country


class Individual(Part):
    kind: Literal["individual"] = "individual"
    given_name: Name
    family_name: Name
    middle_name: str | None = None
    title: str | None = None
    birth_date: date | None = None
    gender: Literal["female", "male", "other", "unknown"] | None = None
    nationality: Country | None = None

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.middle_name, self.family_name) if p)


class Organization(Part):
    kind: Literal["organization"] = "organization"
    name: Name
    trading_name: str | None = None
    legal_form: str | None = None

    @property
    def display_name(self) -> str:
        return self.name


Party = Annotated[Individual | Organization, Field(discriminator="kind")]


class ContactPersonRole(StrEnum):
    AUTHORIZED_CONTACT = "authorized_contact"
    BILLING_CONTACT = "billing_contact"
    TECHNICAL_CONTACT = "technical_contact"
    LEGAL_REPRESENTATIVE = "legal_representative"


class ContactPerson(Validity):
    id: Ref = Field(default_factory=new_id)
    role: ContactPersonRole
    given_name: Name
    family_name: Name
    contact_media: list[ContactMedium] = Field(default_factory=list)


class CustomerStatus(StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


CustomerNumber = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9.\-]+$")]


class Customer(Entity):
    """A party in the customer role, with what invoicing needs to reach and identify it."""

    kind: ClassVar[str] = "customer"

    customer_number: CustomerNumber
    status: CustomerStatus = CustomerStatus.ACTIVE
    segment: Annotated[str, Field(min_length=1, max_length=32)] = "residential"
    party: Party
    identifications: list[Identification] = Field(default_factory=list)
    contact_media: list[ContactMedium] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    contact_persons: list[ContactPerson] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_identifications(self) -> Customer:
        seen: set[tuple[str, str]] = set()
        for ident in self.identifications:
            key = (ident.type.value, identifiers.identifier_key(ident.value))
            if key in seen:
                raise ValueError(f"identification {ident.type.value} {ident.value!r} is repeated")
            seen.add(key)
        return self

    @property
    def display_name(self) -> str:
        return self.party.display_name

    def scope(self) -> Scope:
        return Scope(customer_id=self.id)

    def identification(self, kind: IdentificationType) -> Identification | None:
        return next((i for i in self.identifications if i.type is kind), None)

    def addresses_by_role(self, role: AddressRole) -> list[Address]:
        return [a for a in self.addresses if a.role is role]


# --------------------------------------------------------------------------- accounts


class PaymentMethod(StrEnum):
    INVOICE = "invoice"
    DIRECT_DEBIT = "direct_debit"
    CARD = "card"
    PREPAID = "prepaid"


class Money(Part):
    amount: Amount
    currency: Currency


class Account(Entity):
    """A node of the organisation hierarchy (TMF BillingAccount; a BSCS customer node).

    ``parent_id`` may be of unlimited depth; the store refuses cycles. The payer of a node is
    its nearest ancestor-or-self whose ``payment_responsible`` is true."""

    kind: ClassVar[str] = "account"

    customer_id: Ref
    number: CustomerNumber
    name: Name
    parent_id: Ref | None = None
    payment_responsible: bool = True
    bill_cycle: Annotated[str, Field(min_length=1, max_length=8)] | None = None
    payment_method: PaymentMethod = PaymentMethod.INVOICE
    credit_limit: Money | None = None
    status: Literal["active", "suspended", "closed"] = "active"

    @model_validator(mode="after")
    def _not_own_parent(self) -> Account:
        if self.parent_id == self.id:
            raise ValueError("an account cannot be its own parent")
        return self

    def scope(self) -> Scope:
        return Scope(customer_id=self.customer_id, account_id=self.id)


# --------------------------------------------------------------------------- contracts


class ContractStatus(StrEnum):
    ON_HOLD = "on_hold"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


CONTRACT_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    ContractStatus.ON_HOLD: frozenset({ContractStatus.ACTIVE, ContractStatus.DEACTIVATED}),
    ContractStatus.ACTIVE: frozenset({ContractStatus.SUSPENDED, ContractStatus.DEACTIVATED}),
    ContractStatus.SUSPENDED: frozenset({ContractStatus.ACTIVE, ContractStatus.DEACTIVATED}),
    ContractStatus.DEACTIVATED: frozenset(),
}


class ContractStatusChange(Part):
    status: ContractStatus
    at: AwareDatetime
    reason: str | None = None


class Contract(Entity):
    kind: ClassVar[str] = "contract"

    customer_id: Ref
    account_id: Ref
    number: CustomerNumber
    sales_application_number: str | None = None
    rate_plan: Code
    status: ContractStatus = ContractStatus.ON_HOLD
    status_history: list[ContractStatusChange] = Field(default_factory=list)

    def scope(self) -> Scope:
        return Scope(customer_id=self.customer_id, account_id=self.account_id, contract_id=self.id)

    def owner(self) -> tuple[str, str, str] | None:
        return ("account", self.account_id, "account_id")

    def change_status(self, new: ContractStatus, at: datetime, reason: str | None = None) -> None:
        """Move to ``new`` if a BSCS contract may (on hold → active → suspended ⇄ active,
        any → deactivated; nothing leaves deactivated), recording the dated change."""
        if new not in CONTRACT_TRANSITIONS[self.status]:
            raise Conflict(
                f"contract {self.number} cannot go from {self.status.value} to {new.value}"
            )
        self.status_history = [
            *self.status_history,
            ContractStatusChange(status=new, at=at, reason=reason),
        ]
        self.status = new


class SubscriberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


class Subscriber(Entity):
    """The SIM and number a contract is used with."""

    kind: ClassVar[str] = "subscriber"

    customer_id: Ref
    account_id: Ref
    contract_id: Ref
    msisdn: Msisdn
    imsi: Imsi | None = None
    iccid: Iccid | None = None
    status: SubscriberStatus = SubscriberStatus.ACTIVE
    listing_groups: list[Code] = Field(default_factory=list)

    def scope(self) -> Scope:
        return Scope(self.customer_id, self.account_id, self.contract_id, self.id)

    def owner(self) -> tuple[str, str, str] | None:
        return ("contract", self.contract_id, "contract_id")


# --------------------------------------------------------------------------- products


class ServiceLimit(Part):
    """A service-defined limit: data cap, spending limit, roaming limit…"""

    name: Code
    value: NonNegative
    unit: Annotated[str, Field(min_length=1, max_length=16)]


class ServiceStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


class ServiceAssignment(Entity, Validity):
    kind: ClassVar[str] = "service_assignment"

    customer_id: Ref
    account_id: Ref
    contract_id: Ref
    subscriber_id: Ref | None = None
    service_code: Code
    status: ServiceStatus = ServiceStatus.ACTIVE
    parameters: dict[Code, Annotated[str, Field(max_length=256)]] = Field(default_factory=dict)
    limits: list[ServiceLimit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_limits(self) -> ServiceAssignment:
        names = [limit.name for limit in self.limits]
        if len(names) != len(set(names)):
            raise ValueError("a limit name is repeated")
        return self

    def scope(self) -> Scope:
        return Scope(self.customer_id, self.account_id, self.contract_id, self.subscriber_id)

    def owner(self) -> tuple[str, str, str] | None:
        if self.subscriber_id:
            return ("subscriber", self.subscriber_id, "subscriber_id")
        return ("contract", self.contract_id, "contract_id")


class AssignmentLevel(StrEnum):
    ACCOUNT = "account"
    CONTRACT = "contract"
    SUBSCRIBER = "subscriber"


class DiscountAssignment(Entity, Validity):
    """A discount or promotion at account, contract or subscriber level.

    At account level with ``inherited`` true it applies to the whole subtree below."""

    kind: ClassVar[str] = "discount_assignment"

    customer_id: Ref
    account_id: Ref
    contract_id: Ref | None = None
    subscriber_id: Ref | None = None
    discount_kind: Literal["discount", "promotion"] = "discount"
    code: Code
    level: AssignmentLevel
    value: NonNegative
    value_type: Literal["percent", "amount"] = "percent"
    currency: Currency | None = None
    inherited: bool = True
    status: Literal["active", "removed"] = "active"

    @model_validator(mode="after")
    def _consistent(self) -> DiscountAssignment:
        if self.level is AssignmentLevel.CONTRACT and not self.contract_id:
            raise ValueError("a contract-level assignment needs contract_id")
        if self.level is AssignmentLevel.SUBSCRIBER and not self.subscriber_id:
            raise ValueError("a subscriber-level assignment needs subscriber_id")
        if self.value_type == "percent" and self.value > 100:
            raise ValueError("a percentage discount cannot exceed 100")
        if self.value_type == "amount" and not self.currency:
            raise ValueError("an amount discount needs a currency")
        return self

    def scope(self) -> Scope:
        return Scope(self.customer_id, self.account_id, self.contract_id, self.subscriber_id)

    def owner(self) -> tuple[str, str, str] | None:
        if self.subscriber_id:
            return ("subscriber", self.subscriber_id, "subscriber_id")
        if self.contract_id:
            return ("contract", self.contract_id, "contract_id")
        return ("account", self.account_id, "account_id")


# --------------------------------------------------------------------------- balances, usage


class Balance(Entity):
    """Monetary balance of an account, as last reported by billing."""

    kind: ClassVar[str] = "balance"

    customer_id: Ref
    account_id: Ref
    currency: Currency
    current: Amount = Decimal(0)
    unbilled: Amount = Decimal(0)
    outstanding: Amount = Decimal(0)
    as_of: AwareDatetime

    def scope(self) -> Scope:
        return Scope(customer_id=self.customer_id, account_id=self.account_id)

    def owner(self) -> tuple[str, str, str] | None:
        return ("account", self.account_id, "account_id")


class FreeUnitBucket(Entity):
    """Free units of a package for one period: granted, used, remaining."""

    kind: ClassVar[str] = "free_unit_bucket"

    customer_id: Ref
    account_id: Ref
    contract_id: Ref
    subscriber_id: Ref | None = None
    package: Code
    unit: Literal["seconds", "minutes", "sms", "mms", "bytes", "kb", "mb", "gb", "events", "money"]
    granted: NonNegative
    used: NonNegative = Decimal(0)
    remaining: NonNegative = Decimal(0)  # granted - used when not given (see below)
    period_start: date
    period_end: date
    as_of: AwareDatetime

    @model_validator(mode="before")
    @classmethod
    def _default_remaining(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("remaining") is None and "granted" in data:
            try:
                left = Decimal(str(data["granted"])) - Decimal(str(data.get("used", 0)))
            except (ArithmeticError, ValueError):
                return data  # the field validators report the bad number by name
            if left.is_finite():
                data = {**data, "remaining": max(left, Decimal(0))}
        return data

    @model_validator(mode="after")
    def _period(self) -> FreeUnitBucket:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self

    def scope(self) -> Scope:
        return Scope(self.customer_id, self.account_id, self.contract_id, self.subscriber_id)

    def owner(self) -> tuple[str, str, str] | None:
        if self.subscriber_id:
            return ("subscriber", self.subscriber_id, "subscriber_id")
        return ("contract", self.contract_id, "contract_id")


class UsageType(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    MMS = "mms"
    DATA = "data"
    ROAMING_VOICE = "roaming_voice"
    ROAMING_SMS = "roaming_sms"
    ROAMING_DATA = "roaming_data"
    PREMIUM = "premium"


class UsageRecord(Entity):
    """One line of a traffic listing. Immutable once recorded."""

    kind: ClassVar[str] = "usage_record"

    customer_id: Ref
    account_id: Ref
    contract_id: Ref
    subscriber_id: Ref
    start_time: AwareDatetime
    type: UsageType
    direction: Literal["outgoing", "incoming"] = "outgoing"
    other_party: Annotated[str, Field(max_length=64)] | None = None
    duration_seconds: Annotated[int, Field(ge=0)] | None = None
    volume_bytes: Annotated[int, Field(ge=0)] | None = None
    charge: Money
    free_units_consumed: NonNegative = Decimal(0)
    free_unit_package: Code | None = None
    roaming_country: Country | None = None

    def scope(self) -> Scope:
        return Scope(self.customer_id, self.account_id, self.contract_id, self.subscriber_id)

    def owner(self) -> tuple[str, str, str] | None:
        return ("subscriber", self.subscriber_id, "subscriber_id")


class SuppressionScope(StrEnum):
    SUBSCRIBER = "subscriber"
    ACCOUNT = "account"  # the account and its whole subtree
    GROUP = "group"  # every subscriber in a named listing group


class ListingSuppression(Entity, Validity):
    """Hides traffic listings from anyone without the privilege to view suppressed listings."""

    kind: ClassVar[str] = "listing_suppression"

    scope_type: SuppressionScope
    customer_id: Ref | None = None
    account_id: Ref | None = None
    contract_id: Ref | None = None
    subscriber_id: Ref | None = None
    group_name: Code | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    active: bool = True

    @model_validator(mode="after")
    def _target(self) -> ListingSuppression:
        needs = {
            SuppressionScope.SUBSCRIBER: ("subscriber_id", self.subscriber_id),
            SuppressionScope.ACCOUNT: ("account_id", self.account_id),
            SuppressionScope.GROUP: ("group_name", self.group_name),
        }[self.scope_type]
        if not needs[1]:
            raise ValueError(f"a suppression of scope {self.scope_type.value} needs {needs[0]}")
        return self

    def scope(self) -> Scope:
        return Scope(self.customer_id, self.account_id, self.contract_id, self.subscriber_id)

    def owner(self) -> tuple[str, str, str] | None:
        if self.scope_type is SuppressionScope.SUBSCRIBER and self.subscriber_id:
            return ("subscriber", self.subscriber_id, "subscriber_id")
        if self.scope_type is SuppressionScope.ACCOUNT and self.account_id:
            return ("account", self.account_id, "account_id")
        return None


# --------------------------------------------------------------------------- attributes are in
# adapter.domain.attributes; they are entities like these.
