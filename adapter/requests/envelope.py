"""The request envelope: what a provisioning system sends, whatever the transport.

An envelope carries the idempotency key (``request_id``), who asked (``originating_user``)
through which business channel (``channel``), the ``operation`` and its ``payload``, and
optionally the ``expected_version`` of the entity the operation changes and the ``customer``
the request concerns (for ordering; see ``docs/requests.md``).

Each operation has an envelope class of its own whose ``payload`` is that operation's command
(:mod:`adapter.requests.commands`); :func:`parse_envelope` picks the class by ``operation``
(a discriminated union), and :func:`envelope_schema` is the JSON Schema pydantic derives from
the same classes, so what the schema publishes and what the adapter accepts cannot drift apart.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapter.domain.errors import ValidationFailed, Violation
from adapter.domain.model import Ref
from adapter.requests import commands as c

REQUEST_ID_MAX = 200


def _no_whitespace(value: str) -> str:
    if any(ch.isspace() for ch in value):
        raise ValueError("a request id contains no whitespace")
    return value


RequestId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=REQUEST_ID_MAX),
    AfterValidator(_no_whitespace),
    Field(
        description="The idempotency key: unique per request, kept by the sender for retries.",
        json_schema_extra={"pattern": r"^\S+$"},
    ),
]
ActorText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RequestEnvelope(BaseModel):
    """A provisioning request. ``request_id`` is the idempotency key: a request id already
    recorded is acknowledged with its first outcome, never applied again. The key may not
    contain whitespace."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    originating_user: ActorText = Field(
        description="The person (or system user) on whose behalf the request is made; "
        "recorded on the audited change."
    )
    channel: ActorText = Field(
        description="The business channel the request came through (shop, selfcare, "
        "order-management…); recorded on the audited change."
    )
    operation: str
    payload: c.Command
    expected_version: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Refuse the request unless the entity it changes is at this version "
        "(optimistic concurrency). Only for operations on an existing entity.",
    )
    customer: Ref | None = Field(
        default=None,
        description="The customer the request concerns (id or customer number), used to "
        "apply one customer's requests in order. Derived from the payload when absent.",
    )

    @field_validator("expected_version")
    @classmethod
    def _applies(cls, value: int | None, info: ValidationInfo) -> int | None:
        payload = info.data.get("payload")
        if value is not None and isinstance(payload, c.Command) and not payload.versioned:
            raise ValueError(
                f"{info.data.get('operation')} creates or sets entities; expected_version is "
                "for operations that change an existing one"
            )
        return value

    @model_validator(mode="after")
    def _hand_over_version(self) -> RequestEnvelope:
        self.payload.with_expected_version(self.expected_version)
        return self


class CreateCustomerRequest(RequestEnvelope):
    operation: Literal["customer.create"]
    payload: c.CreateCustomer


class UpdateCustomerRequest(RequestEnvelope):
    operation: Literal["customer.update"]
    payload: c.UpdateCustomer


class AddContactPersonRequest(RequestEnvelope):
    operation: Literal["customer.add_contact_person"]
    payload: c.AddContactPerson


class RemoveContactPersonRequest(RequestEnvelope):
    operation: Literal["customer.remove_contact_person"]
    payload: c.RemoveContactPerson


class CreateAccountRequest(RequestEnvelope):
    operation: Literal["account.create"]
    payload: c.CreateAccount


class MoveAccountRequest(RequestEnvelope):
    operation: Literal["account.move"]
    payload: c.MoveAccount


class SetPaymentResponsibilityRequest(RequestEnvelope):
    operation: Literal["account.set_payment_responsibility"]
    payload: c.SetPaymentResponsibility


class CreateContractRequest(RequestEnvelope):
    operation: Literal["contract.create"]
    payload: c.CreateContract


class ChangeContractStatusRequest(RequestEnvelope):
    operation: Literal["contract.change_status"]
    payload: c.ChangeContractStatus


class AddServiceRequest(RequestEnvelope):
    operation: Literal["service.add"]
    payload: c.AddService


class ChangeServiceRequest(RequestEnvelope):
    operation: Literal["service.change"]
    payload: c.ChangeService


class RemoveServiceRequest(RequestEnvelope):
    operation: Literal["service.remove"]
    payload: c.RemoveService


class AssignDiscountRequest(RequestEnvelope):
    operation: Literal["discount.assign"]
    payload: c.AssignDiscount


class RemoveDiscountRequest(RequestEnvelope):
    operation: Literal["discount.remove"]
    payload: c.RemoveDiscount


class SetListingSuppressionRequest(RequestEnvelope):
    operation: Literal["suppression.set"]
    payload: c.SetListingSuppression


class ClearListingSuppressionRequest(RequestEnvelope):
    operation: Literal["suppression.clear"]
    payload: c.ClearListingSuppression


class SetAttributesRequest(RequestEnvelope):
    operation: Literal["attributes.set"]
    payload: c.SetAttributes


class RestoreVersionRequest(RequestEnvelope):
    operation: Literal["version.restore"]
    payload: c.RestoreVersion


class ResyncToBillingRequest(RequestEnvelope):
    operation: Literal["billing.resync"]
    payload: c.ResyncToBilling


_REQUESTS: tuple[type[RequestEnvelope], ...] = (
    CreateCustomerRequest,
    UpdateCustomerRequest,
    AddContactPersonRequest,
    RemoveContactPersonRequest,
    CreateAccountRequest,
    MoveAccountRequest,
    SetPaymentResponsibilityRequest,
    CreateContractRequest,
    ChangeContractStatusRequest,
    AddServiceRequest,
    ChangeServiceRequest,
    RemoveServiceRequest,
    AssignDiscountRequest,
    RemoveDiscountRequest,
    SetListingSuppressionRequest,
    ClearListingSuppressionRequest,
    SetAttributesRequest,
    RestoreVersionRequest,
    ResyncToBillingRequest,
)


def _operation_of(cls: type[RequestEnvelope]) -> str:
    (name,) = get_args(cls.model_fields["operation"].annotation)
    return str(name)


OPERATIONS: dict[str, type[RequestEnvelope]] = {_operation_of(cls): cls for cls in _REQUESTS}
"""Every operation's name and its envelope class, in the order ``docs/requests.md`` lists
them."""


@cache
def _adapter() -> TypeAdapter[RequestEnvelope]:
    union = functools.reduce(operator.or_, _REQUESTS)
    # A union of RequestEnvelope subclasses, built from the tuple above so that each
    # operation is listed once; pydantic picks the member by ``operation``.
    tagged = cast("type[RequestEnvelope]", Annotated[union, Field(discriminator="operation")])
    return TypeAdapter(tagged)


def parse_envelope(data: Any) -> RequestEnvelope:
    """Validate ``data`` (decoded JSON) as an envelope of its operation, or raise
    :class:`ValidationFailed` naming each field (``payload.party.family_name``) and rule."""
    if not isinstance(data, Mapping):
        raise ValidationFailed.one(
            "(envelope)", "type", f"an envelope is a JSON object, not {_json_type(data)}"
        )
    try:
        return _adapter().validate_python(dict(data))
    except ValidationError as exc:
        raise ValidationFailed(envelope_violations(exc)) from None


def envelope_violations(error: ValidationError) -> list[Violation]:
    """pydantic's errors as violations with paths from the envelope's root (without the
    operation and party tags pydantic puts in its locations)."""
    found: list[Violation] = []
    known = ", ".join(OPERATIONS)
    for item in error.errors(include_url=False):
        kind = str(item["type"])
        if kind == "union_tag_invalid":
            tag = item.get("ctx", {}).get("tag")
            found.append(
                Violation("operation", "known", f"unknown operation {tag!r}; one of: {known}")
            )
            continue
        if kind == "union_tag_not_found":
            found.append(Violation("operation", "missing", f"operation is required: {known}"))
            continue
        loc = list(item["loc"])
        if loc and loc[0] in OPERATIONS:
            loc = loc[1:]
        path = ".".join(str(p) for p in loc if p not in ("individual", "organization"))
        message = str(item["msg"]).removeprefix("Value error, ")
        found.append(Violation(path or "(envelope)", kind, message))
    return found


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an envelope: ``oneOf`` the operations' envelopes,
    discriminated by ``operation``, each with its payload's schema."""
    schema = _adapter().json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Provisioning request envelope",
        "description": (
            "A request to the telco CRM adapter: one operation on the canonical store, "
            "applied once per request_id. See docs/requests.md."
        ),
        **schema,
    }


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__
