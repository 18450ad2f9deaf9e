"""The domain imports no infrastructure: no storage, SOAP, HTTP, queue or migration library."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import adapter.domain

DOMAIN_DIR = Path(adapter.domain.__file__).parent
FORBIDDEN = frozenset(
    {
        "sqlalchemy",
        "zeep",
        "lxml",
        "requests",
        "httpx",
        "http",
        "urllib",
        "fastapi",
        "starlette",
        "psycopg",
        "celery",
        "kombu",
        "alembic",
    }
)
DOMAIN_MODULES = (
    "adapter.domain",
    "adapter.domain.attributes",
    "adapter.domain.history",
    "adapter.domain.patch",
    "adapter.domain.validation",
)


def imported_roots(source: str) -> set[str]:
    """Top-level package names of every absolute import in ``source``."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


DOMAIN_FILES = sorted(DOMAIN_DIR.rglob("*.py"))


def test_the_domain_package_has_the_expected_modules() -> None:
    names = {path.name for path in DOMAIN_FILES}
    assert {"model.py", "identifiers.py", "attributes.py", "history.py", "patch.py"} <= names


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import sqlalchemy", {"sqlalchemy"}),
        ("import urllib.parse as up", {"urllib"}),
        ("from http import client", {"http"}),
        ("from zeep.client import Client", {"zeep"}),
        ("def f():\n    import requests\n", {"requests"}),
        ("from . import model", set()),
    ],
)
def test_import_scanner_finds_imports_anywhere_in_a_module(source: str, found: set[str]) -> None:
    """The checker below would catch an import at top level, aliased, or inside a function."""
    assert imported_roots(source) & FORBIDDEN == found


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_domain_module_imports_no_infrastructure(path: Path) -> None:
    forbidden = imported_roots(path.read_text(encoding="utf-8")) & FORBIDDEN
    assert not forbidden, f"{path.name} imports {sorted(forbidden)}"


def test_importing_the_domain_loads_no_infrastructure_module() -> None:
    """In a fresh interpreter, importing the domain adds no forbidden module to sys.modules.

    Modules the interpreter loaded at start-up (site and .pth hooks already pull in
    urllib.parse through pathlib) are subtracted, so only what the domain brings in counts;
    the source scan above catches a direct import of one of those."""
    code = (
        "import importlib, json, sys\n"
        "before = set(sys.modules)\n"
        f"for name in {list(DOMAIN_MODULES)!r}:\n"
        "    importlib.import_module(name)\n"
        f"forbidden = {sorted(FORBIDDEN)!r}\n"
        "new = set(sys.modules) - before\n"
        "print(json.dumps(sorted(m for m in new if m.split('.')[0] in forbidden)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []
