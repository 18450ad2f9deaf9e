"""docs/requests.md: its examples are valid envelopes, one per operation, and the schema it
publishes is the one the models generate. Other request tests apply these same examples."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adapter.requests.envelope import OPERATIONS, envelope_schema, parse_envelope

DOC = Path(__file__).parents[2] / "docs" / "requests.md"
_EXAMPLE = re.compile(
    r"^### `([a-z_.]+)`\n(?:.*?\n)*?```json\n(.*?)\n```", re.MULTILINE | re.DOTALL
)


@cache
def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def documented_examples() -> list[dict[str, Any]]:
    """The example envelopes of docs/requests.md, in the order the page gives them (an order
    in which they apply to a store with the attribute ``loyalty_tier`` defined)."""
    operations = _text().split("\n## Operations\n", 1)[1].split("\n## JSON Schema\n", 1)[0]
    found = []
    for heading, body in _EXAMPLE.findall(operations):
        example = json.loads(body)
        assert example["operation"] == heading, f"the example under {heading} is another's"
        found.append(example)
    return found


def documented_schema() -> Any:
    section = _text().split("\n## JSON Schema\n", 1)[1]
    return json.loads(section.split("```json\n", 1)[1].split("\n```", 1)[0])


def test_every_operation_has_exactly_one_example() -> None:
    assert sorted(e["operation"] for e in documented_examples()) == sorted(OPERATIONS)


@pytest.mark.parametrize("example", documented_examples(), ids=lambda e: e["operation"])
def test_each_example_is_a_valid_envelope_of_its_operation(example: dict[str, Any]) -> None:
    envelope = parse_envelope(example)
    assert envelope.operation == example["operation"]
    assert isinstance(envelope, OPERATIONS[example["operation"]])


def test_the_published_schema_is_the_generated_one() -> None:
    """Regenerate the block in docs/requests.md with `crm-adapter requests schema`."""
    assert documented_schema() == envelope_schema()
