"""The mapping engine is a room of its own: no SOAP, database or HTTP code, nothing done at
import time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import adapter.mapping

MAPPING_FILES = sorted(Path(adapter.mapping.__file__).parent.glob("*.py"))
FORBIDDEN = ("zeep", "sqlalchemy", "httpx", "requests", "starlette", "uvicorn", "celery", "redis")


@pytest.mark.parametrize("path", MAPPING_FILES, ids=lambda p: p.name)
def test_no_module_of_the_engine_imports_soap_database_or_http(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for name in FORBIDDEN:
        assert f"import {name}" not in source and f"from {name}" not in source, name
    assert "eval(" not in source and "exec(" not in source


def test_importing_the_engine_loads_nothing() -> None:
    """No mapping file or schema is read at import, and no forbidden library is pulled in."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import adapter.mapping as m\n"
        f"bad = sorted(x for x in set(sys.modules) - before if x.split('.')[0] in {FORBIDDEN!r})\n"
        "loaded = [m._load.cache_info().currsize, m._schemas.cache_info().currsize]\n"
        "print(json.dumps([bad, *loaded]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == [[], 0, 0]


def test_mappings_are_loaded_once_per_folder() -> None:
    assert adapter.mapping.load_mappings() is adapter.mapping.load_mappings()
