"""Fixtures for the console's tests: the API's real server process and callers (reused from
``tests/integration/api/conftest.py``), and a headless Chromium driven by Playwright.

Chromium is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it with apt-get; Playwright's
own browser download is never used). Without it the browser tests fail with a clear message
when ``CI=true`` and are skipped, saying why, otherwise. Screenshots go to
``test-artifacts/console/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.conftest import (  # noqa: F401  (fixtures used by this package)
    ApiCaller,
    RunningApi,
    anonymous,
    api_engine,
    api_server,
    api_store,
    caller,
)

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 30_000  # per browser action: CPU is contended


def chromium_path() -> str | None:
    override = os.environ.get("CRM_TEST_CHROMIUM")
    for candidate in (override, *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _unavailable(why: str) -> None:
    message = f"console browser tests need headless Chromium: {why}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: .ci/run installs the Debian package chromium)")
    print(f"\nSKIPPED: {message}")
    pytest.skip(message + "; install it with `apt-get install chromium`")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, for the whole session."""
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium executable at " + ", ".join(CHROMIUM_CANDIDATES))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is missing (pip install -e '.[test]')")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=LAUNCH_FLAGS,
            viewport={"width": 1366, "height": 860},
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def signed_in(
    browser: Any,
    api_server: RunningApi,  # noqa: F811
    caller: Callable[[str], ApiCaller],  # noqa: F811
) -> Iterator[Callable[[str], Any]]:
    """``signed_in("agent")``: a new browser page signed in to the console as a new user of
    that role (through the sign-in form); its cookies are cleared after the test."""
    pages: list[Any] = []

    def sign_in(role: str) -> Any:
        browser.clear_cookies()
        user = caller(role)
        page = browser.new_page()
        pages.append(page)
        page.goto(f"{api_server.base_url}/console")
        page.fill("#token", user.token)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/search")
        page.user = user  # the caller behind the page, for assertions
        return page

    yield sign_in
    for page in pages:
        page.close()
    browser.clear_cookies()


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot under test-artifacts/console/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
