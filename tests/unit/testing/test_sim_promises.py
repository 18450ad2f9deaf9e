"""Promises of the billing simulator as a piece of the project: one fault-code table that the
docs follow, a test client independent of it, nothing done at import."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from adapter.testing.billing_sim import CODES
from adapter.testing.billing_sim.faults import KINDS
from adapter.testing.billing_sim.soap import OPERATIONS

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "adapter" / "testing" / "billing_sim"
DOC = ROOT / "docs" / "legacy-interface.md"


def test_every_code_the_simulator_raises_is_in_the_table() -> None:
    used: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        used.update(re.findall(r'"(CMS\.[A-Z]+\d{4})"', path.read_text(encoding="utf-8")))
    assert used - set(CODES) == set()
    assert len(used) > 20


def test_the_docs_list_every_fault_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [code for code in CODES if f"`{code}`" not in text]
    assert missing == []


def test_the_docs_describe_every_operation_and_every_fault_kind() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [op for op in OPERATIONS if f"### {op}" not in text] == []
    assert [kind for kind in KINDS if f"`{kind}`" not in text] == []


def test_the_wsdl_offers_exactly_the_simulators_operations() -> None:
    wsdl = (ROOT / "wsdl" / "cil.wsdl").read_text(encoding="utf-8")
    port_type = wsdl.split("<wsdl:portType", 1)[1].split("</wsdl:portType>", 1)[0]
    assert re.findall(r'<wsdl:operation name="(\w+)"', port_type) == list(OPERATIONS)


def test_the_test_client_shares_no_code_with_the_simulator() -> None:
    source = (ROOT / "adapter" / "testing" / "cil_client.py").read_text(encoding="utf-8")
    imported = {
        node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not [name for name in imported if name.startswith(("adapter", "zeep"))]


def test_importing_the_simulator_starts_nothing_and_writes_nothing(tmp_path: Path) -> None:
    code = (
        "import json, os, threading\n"
        "import adapter.testing.billing_sim, adapter.cli_billing, adapter.cli\n"
        "print(json.dumps([threading.active_count(), os.listdir('.')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"CRM_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin",
             "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )  # fmt: skip
    threads, files = json.loads(done.stdout)
    assert threads == 1
    assert files == []
