"""zeep is the gateway's alone: no other module of the product imports it."""

from __future__ import annotations

from pathlib import Path

import adapter
from tests.unit.domain.test_boundaries import imported_roots

PACKAGE = Path(adapter.__file__).parent
GATEWAY = PACKAGE / "legacy"


def test_only_the_legacy_gateway_imports_zeep() -> None:
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "zeep" in imported_roots(path.read_text()) and GATEWAY not in path.parents
    }
    assert importers == set()


def test_the_gateway_does_import_zeep() -> None:
    assert "zeep" in imported_roots((GATEWAY / "gateway.py").read_text())
