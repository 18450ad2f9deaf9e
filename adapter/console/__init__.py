"""The care-agent web console (``/console``): server-rendered pages on the API server, built on
the API's authentication, privileges, masking, queries and write path (docs/console.md).

:func:`install` adds it to the API app (``adapter.api.app.create_app``); nothing is built when
this package is imported."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_PATH = "/console/static"


def install(app: FastAPI) -> None:
    """Mount the console's static files and pages on APP (static first: the pages end with a
    catch-all that answers unknown console paths with a 404 page)."""
    from .pages import router

    app.mount(
        STATIC_PATH,
        StaticFiles(directory=str(files("adapter.console") / "static")),
        name="console-static",
    )
    app.include_router(router)
