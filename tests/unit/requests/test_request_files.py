"""Reading request files for `crm-adapter submit`: one envelope, an array, or JSON Lines."""

from __future__ import annotations

import pytest

from adapter.cli_requests import read_envelopes


def test_one_envelope() -> None:
    assert read_envelopes('{"request_id": "r1"}') == [{"request_id": "r1"}]


def test_an_array_of_envelopes() -> None:
    assert read_envelopes('[{"request_id": "r1"}, {"request_id": "r2"}]') == [
        {"request_id": "r1"},
        {"request_id": "r2"},
    ]


def test_json_lines_with_blank_lines() -> None:
    assert read_envelopes('{"request_id": "r1"}\n\n{"request_id": "r2"}\n') == [
        {"request_id": "r1"},
        {"request_id": "r2"},
    ]


def test_a_bad_line_is_named() -> None:
    with pytest.raises(ValueError, match="line 2: not JSON"):
        read_envelopes('{"request_id": "r1"}\n{oops\n')


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        read_envelopes("hello")
