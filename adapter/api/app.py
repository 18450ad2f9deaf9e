"""The API's composition root: ``create_app(settings)`` builds the store's engine, the drain
sender and the FastAPI app with its middleware, error handlers and routers. Nothing is built
when this module is imported."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse
from sqlalchemy import Engine
from starlette.routing import BaseRoute

from adapter.console import install as install_console
from adapter.settings import Settings, get_settings

from . import errors
from .context import ApiContext, EnqueueDrain
from .limits import BodyLimit
from .present import RequestLogging

TITLE = "CRM adapter API"
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
"""Routes that need no token; every other route must declare a privilege (tests enforce it)."""
PUBLIC_PATHS |= {"/console/sign-in", "/console/static"}  # console: sign-in page, its files


def routers() -> list[APIRouter]:
    """Every router of the API, in the order they are matched."""
    from .routes import (
        customers,
        search,
        system,
        tmf_account,
        tmf_bucket,
        tmf_customer,
        tmf_party,
        tmf_product,
        tmf_usage,
    )
    from .routes.attributes import router as crm_attributes
    from .routes.audit import router as crm_audit
    from .routes.hierarchy import router as crm_hierarchy
    from .routes.history import router as crm_history
    from .routes.requests import router as crm_requests
    from .routes.subscribers import router as crm_subscribers

    return [
        system.router,
        search.router,
        customers.router,
        tmf_customer.router,
        tmf_party.router,
        tmf_account.router,
        tmf_product.router,
        tmf_usage.router,
        tmf_bucket.router,
        # CRM endpoints under /api/v1 (docs/api.md, "Endpoints")
        crm_hierarchy,
        crm_subscribers,
        crm_history,
        crm_attributes,
        crm_audit,
        crm_requests,
    ]


def api_routes(app: FastAPI) -> list[BaseRoute]:
    """Every route of APP, routers included flattened (FastAPI may keep an included router as
    one entry whose ``original_router`` holds the routes; routers here carry their prefix
    themselves, so each route's ``path`` is complete)."""
    found: list[BaseRoute] = []
    stack: list[BaseRoute] = list(reversed(app.routes))
    while stack:
        route = stack.pop()
        inner = getattr(route, "original_router", None)
        if inner is not None:
            stack.extend(reversed(inner.routes))
        else:
            found.append(route)
    return found


def celery_drain_sender(settings: Settings) -> EnqueueDrain:
    """``crm.sync.drain`` through the configured broker; Celery is imported and its app built
    on first use, so that starting the API stays cheap."""
    holder: list[Any] = []

    def send(customer_id: str) -> None:
        from workers.app import create_app as create_worker_app
        from workers.tasks.sync import DRAIN

        if not holder:
            holder.append(create_worker_app(settings))
        holder[0].send_task(DRAIN, args=[customer_id])

    return send


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    enqueue_drain: EnqueueDrain | None = None,
) -> FastAPI:
    """The API. ``engine``: the store (default: from ``settings.database_url``, which must be
    migrated); ``enqueue_drain``: how a committed write's customer reaches the sync (default:
    Celery's ``crm.sync.drain`` unless ``CRM_API_ENQUEUE_SYNC=false``)."""
    settings = settings or get_settings()
    if engine is None:
        from adapter.bootstrap import Container

        engine = Container(settings).engine
    if enqueue_drain is None and settings.api_enqueue_sync:
        enqueue_drain = celery_drain_sender(settings)

    app = FastAPI(
        title=TITLE,
        version="1",
        description="Customer care and provisioning API of the telco CRM adapter: TMF Open "
        "API v4 conventions, bearer tokens, privileges (docs/api.md).",
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    app.state.context = ApiContext(settings, engine, enqueue_drain)
    errors.install(app)
    # Added innermost first: the log line wraps everything, the size cap wraps the app.
    app.add_middleware(BodyLimit, max_body=settings.api_max_body)
    app.add_middleware(RequestLogging)

    @app.get("/health", include_in_schema=False)
    def health() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    for router in routers():
        app.include_router(router)
    install_console(app)  # /console: the care-agent web console (docs/console.md)
    return app
