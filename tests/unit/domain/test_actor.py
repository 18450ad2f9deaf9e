"""Every write carries an Actor; a blank or absent one is refused (actor.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from adapter.domain.actor import Actor, require_actor
from adapter.domain.errors import MissingActor

FIELDS = ("originating_user", "principal", "channel", "request_id")
VALID = {
    "originating_user": "agent.smith",
    "principal": "crm-frontend",
    "channel": "web",
    "request_id": "req-1",
}


def test_actor_keeps_its_four_fields() -> None:
    actor = Actor(**VALID)
    assert dataclasses.asdict(actor) == VALID


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("bad", ["", "   ", "\t\n", None, 42, b"bytes"])
def test_actor_refuses_a_blank_or_missing_field(field: str, bad: Any) -> None:
    with pytest.raises(MissingActor, match=f"the actor's {field} is required"):
        Actor(**{**VALID, field: bad})


@pytest.mark.parametrize("field", FIELDS)
def test_actor_accepts_200_characters_and_refuses_201(field: str) -> None:
    assert getattr(Actor(**{**VALID, field: "x" * 200}), field) == "x" * 200
    with pytest.raises(MissingActor, match="longer than 200 characters"):
        Actor(**{**VALID, field: "x" * 201})


def test_actor_is_immutable() -> None:
    actor = Actor(**VALID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        actor.channel = "batch"  # type: ignore[misc]


def test_missing_actor_has_a_stable_code() -> None:
    with pytest.raises(MissingActor) as info:
        Actor(**{**VALID, "principal": ""})
    assert info.value.code == "missing_actor"


def test_require_actor_refuses_none() -> None:
    with pytest.raises(MissingActor, match="every write needs an actor"):
        require_actor(None)


@pytest.mark.parametrize("not_an_actor", [VALID, "agent.smith", 1])
def test_require_actor_refuses_something_that_is_not_an_actor(not_an_actor: Any) -> None:
    with pytest.raises(MissingActor, match="the actor must be an Actor"):
        require_actor(not_an_actor)


def test_require_actor_returns_the_actor_it_was_given() -> None:
    actor = Actor(**VALID)
    assert require_actor(actor) is actor
