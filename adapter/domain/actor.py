"""Who executes a transaction. Every write carries one; a write without one is refused."""

from __future__ import annotations

from dataclasses import dataclass

from adapter.domain.errors import MissingActor

_MAX = 200


@dataclass(frozen=True)
class Actor:
    """The originating user, the principal (system) that carried the request, the channel and
    the request id that makes the transaction traceable and idempotent."""

    originating_user: str
    principal: str
    channel: str
    request_id: str

    def __post_init__(self) -> None:
        for name in ("originating_user", "principal", "channel", "request_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise MissingActor(f"the actor's {name} is required and must not be blank")
            if len(value) > _MAX:
                raise MissingActor(f"the actor's {name} is longer than {_MAX} characters")


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise MissingActor(
            "every write needs an actor (originating user, principal, channel, request id)"
        )
    if not isinstance(actor, Actor):
        raise MissingActor(f"the actor must be an Actor, not {type(actor).__name__}")
    return actor
