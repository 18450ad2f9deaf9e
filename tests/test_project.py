"""The project's own promises: lint and types clean, README commands that CI really runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def readme_command(label: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {label} -->\s*```(?:sh|bash)?\n(.+?)\n```", text, re.S)
    assert match, f"README.md has no {label} command block"
    return match.group(1).strip()


def test_ruff_finds_nothing() -> None:
    done = subprocess.run(
        [str(BIN / "ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_the_readme_test_command() -> None:
    command = readme_command("test-command")
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_run_command_starts_everything() -> None:
    assert readme_command("run-command").endswith("crm-adapter up")
