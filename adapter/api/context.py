"""What the routes share, built once by ``create_app``: settings, the store, the drain sender."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from adapter.settings import Settings

EnqueueDrain = Callable[[str], None]
"""Sends ``crm.sync.drain`` for one customer id."""


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    engine: Engine
    enqueue_drain: EnqueueDrain | None


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context
