"""The console's session helpers: CSRF tokens and where a sign-in may send the browser."""

from __future__ import annotations

import pytest

from adapter.console.render import safe_next
from adapter.console.session import csrf_token


def test_the_csrf_token_is_stable_for_a_session() -> None:
    assert csrf_token("crm_abc") == csrf_token("crm_abc")


def test_the_csrf_token_differs_between_sessions_and_does_not_contain_the_token() -> None:
    one, other = csrf_token("crm_abc"), csrf_token("crm_abd")
    assert one != other
    assert "crm_abc" not in one


@pytest.mark.parametrize(
    "target", ["/console", "/console/search?name=x", "/console/customers/C1#account-1"]
)
def test_a_console_path_is_kept_after_sign_in(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/console",
        "//evil.example/console",
        "/console//evil.example",
        "/console\\\\evil",
        "/consolex",
        "/api/v1/whoami",
        "/console/\r\nSet-Cookie: x=1",
    ],
)
def test_anything_else_after_sign_in_goes_to_the_console_home(target: str | None) -> None:
    assert safe_next(target) == "/console"
