"""Turn pydantic's errors into :class:`ValidationFailed`, which names the field and the rule."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import pydantic

from adapter.domain.errors import ValidationFailed, Violation

M = TypeVar("M", bound=pydantic.BaseModel)


def violations_of(error: pydantic.ValidationError, prefix: str = "") -> list[Violation]:
    found = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"] if p not in ("individual", "organization"))
        field = f"{prefix}{path}" if path else (prefix.rstrip(".") or "(entity)")
        message = str(item["msg"]).removeprefix("Value error, ")
        found.append(Violation(field, str(item["type"]), message))
    return found


@contextmanager
def validating(prefix: str = "") -> Iterator[None]:
    """Run a block that builds or changes models, re-raising their errors as ValidationFailed."""
    try:
        yield
    except pydantic.ValidationError as exc:
        raise ValidationFailed(violations_of(exc, prefix)) from None


def parse(model: type[M], data: Mapping[str, Any], prefix: str = "") -> M:
    with validating(prefix):
        return model.model_validate(dict(data))
