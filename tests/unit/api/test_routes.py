"""Deny by default: every route of the API declares a privilege dependency (``require``),
except the health check and the documentation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from adapter.api.app import PUBLIC_PATHS, api_routes, create_app
from adapter.api.auth import PRIVILEGES_ATTRIBUTE
from adapter.settings import Settings


def _guarded(dependant: Any) -> bool:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if hasattr(current.call, PRIVILEGES_ATTRIBUTE):
            return True
        stack.extend(current.dependencies)
    return False


def unguarded_routes(app: FastAPI) -> list[str]:
    """``METHOD path`` of each route that neither is public nor declares a privilege."""
    found = []
    for route in api_routes(app):
        path = getattr(route, "path", "")
        if path in PUBLIC_PATHS:
            continue
        if not isinstance(route, APIRoute) or not _guarded(route.dependant):
            methods = ",".join(sorted(getattr(route, "methods", None) or ["*"]))
            found.append(f"{methods} {path}")
    return found


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    # The engine is built but never connected: enumerating routes touches no store.
    return create_app(Settings(data_dir=tmp_path, api_enqueue_sync=False))


def test_every_route_but_health_and_docs_declares_a_privilege(app: FastAPI) -> None:
    assert unguarded_routes(app) == []


def test_the_enumeration_sees_the_api_routes(app: FastAPI) -> None:
    paths = {getattr(r, "path", "") for r in api_routes(app)}
    assert {"/api/v1/whoami", "/api/v1/search", "/api/v1/customers/{customer_id}"} <= paths


def test_a_route_without_a_privilege_is_reported(app: FastAPI) -> None:
    """The check can fail: a route added without ``require`` is named."""

    @app.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    assert unguarded_routes(app) == ["GET /api/v1/forgotten"]
