"""TMF630 helpers: merge patch (RFC 7386), projection, attribute filters."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.api.tmf import matches, merge_patch, project


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [  # the examples of RFC 7386, appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_merge_patch_leaves_its_arguments_alone() -> None:
    target = {"a": {"b": 1}}
    merge_patch(target, {"a": {"b": None}})
    assert target == {"a": {"b": 1}}


def test_projection_keeps_id_href_and_type_always() -> None:
    doc = {"id": "1", "href": "h", "@type": "T", "name": "n", "status": "s"}
    assert project(doc, "status") == {"id": "1", "href": "h", "@type": "T", "status": "s"}
    assert project(doc, "none") == {"id": "1", "href": "h", "@type": "T"}
    assert project(doc, None) == doc
    assert project(doc, "party.name,unknown") == {"id": "1", "href": "h", "@type": "T"}


def test_filters_compare_text_through_nested_objects_and_lists() -> None:
    doc = {"status": "active", "party": {"kind": "individual"}, "tags": ["a", "b"], "vip": True}
    assert matches(doc, {"status": ["active", "suspended"], "party.kind": ["individual"]})
    assert matches(doc, {"tags": ["b"], "vip": ["true"]})
    assert not matches(doc, {"status": ["suspended"]})
    assert not matches(doc, {"party.missing": ["x"]})
