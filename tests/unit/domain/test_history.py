"""Snapshot diffs, dotted-path access and JSON merge patch (history.py, patch.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.domain.history import diff, get_path, stored_diff, with_path
from adapter.domain.patch import merge_patch

SNAPSHOT: dict[str, Any] = {
    "id": "c1",
    "status": "active",
    "party": {"kind": "individual", "given_name": "Ana", "family_name": "Müller"},
    "addresses": [{"city": "Berlin"}, {"city": "Hamburg"}],
    "meta": {"a": {"b": {"c": 1}}},
}

# JSON-like values without None (diff treats an absent key and a None value alike).
JSON_LEAVES = st.one_of(st.booleans(), st.integers(), st.text(max_size=5))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
JSON_OBJECTS = st.dictionaries(st.text(alphabet="abc.", max_size=3), JSON_VALUES, max_size=4)


def changed(**paths: Any) -> dict[str, Any]:
    return copy.deepcopy(SNAPSHOT) | paths


# --------------------------------------------------------------------------- diff


def test_diff_of_equal_snapshots_is_empty() -> None:
    assert diff(SNAPSHOT, copy.deepcopy(SNAPSHOT)) == {}


def test_diff_reports_a_top_level_change_with_old_and_new() -> None:
    assert diff(SNAPSHOT, changed(status="closed")) == {
        "status": {"old": "active", "new": "closed"}
    }


def test_diff_walks_nested_objects_to_a_dotted_path() -> None:
    new = copy.deepcopy(SNAPSHOT)
    new["party"]["family_name"] = "Schmidt"
    assert diff(SNAPSHOT, new) == {"party.family_name": {"old": "Müller", "new": "Schmidt"}}


def test_diff_walks_several_levels_deep() -> None:
    new = copy.deepcopy(SNAPSHOT)
    new["meta"]["a"]["b"]["c"] = 2
    assert diff(SNAPSHOT, new) == {"meta.a.b.c": {"old": 1, "new": 2}}


def test_diff_compares_lists_whole() -> None:
    """One changed item reports the whole list: list items have no stable key."""
    new = copy.deepcopy(SNAPSHOT)
    new["addresses"][1]["city"] = "Köln"
    assert diff(SNAPSHOT, new) == {
        "addresses": {"old": SNAPSHOT["addresses"], "new": new["addresses"]}
    }


def test_diff_reports_an_object_replaced_by_a_scalar_whole() -> None:
    assert diff({"party": {"name": "x"}}, {"party": "x"}) == {
        "party": {"old": {"name": "x"}, "new": "x"}
    }


def test_diff_of_a_creation_has_every_field_with_old_none() -> None:
    result = diff(None, {"id": "c1", "party": {"given_name": "Ana"}})
    assert result == {
        "id": {"old": None, "new": "c1"},
        "party": {"old": None, "new": {"given_name": "Ana"}},
    }


def test_diff_of_a_deletion_has_every_field_with_new_none() -> None:
    result = diff({"id": "c1", "tags": ["a"]}, None)
    assert result == {"id": {"old": "c1", "new": None}, "tags": {"old": ["a"], "new": None}}


def test_diff_reports_added_and_removed_keys_with_none_on_the_missing_side() -> None:
    assert diff({"a": 1, "b": 2}, {"b": 2, "c": 3}) == {
        "a": {"old": 1, "new": None},
        "c": {"old": None, "new": 3},
    }


def test_diff_does_not_tell_an_absent_key_from_a_none_value() -> None:
    """MISSING is None: a field created as None is not in the creation diff (by design)."""
    assert diff(None, {"middle_name": None}) == {}
    assert diff({"a": None}, {}) == {}


def test_diff_orders_paths_alphabetically() -> None:
    old = {"z": 1, "a": {"y": 1, "b": 1}, "m": 1}
    new = {"z": 2, "a": {"y": 2, "b": 2}, "m": 2}
    assert list(diff(old, new)) == ["a.b", "a.y", "m", "z"]


@given(JSON_OBJECTS, JSON_OBJECTS)
def test_diff_is_empty_exactly_when_snapshots_are_equal(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    assert (diff(a, b) == {}) == (a == b)


@given(JSON_OBJECTS, JSON_OBJECTS)
def test_diff_reversed_swaps_old_and_new(a: dict[str, Any], b: dict[str, Any]) -> None:
    swapped = {path: {"old": c["new"], "new": c["old"]} for path, c in diff(a, b).items()}
    assert diff(b, a) == swapped


# --------------------------------------------------------------------------- get_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("status", "active"),
        ("party.family_name", "Müller"),
        ("meta.a.b.c", 1),
        ("meta.a", {"b": {"c": 1}}),
        ("addresses", [{"city": "Berlin"}, {"city": "Hamburg"}]),
    ],
)
def test_get_path_returns_the_value_at_a_dotted_path(path: str, expected: Any) -> None:
    assert get_path(SNAPSHOT, path) == expected


@pytest.mark.parametrize(
    "path", ["nope", "party.nope", "party.family_name.x", "status.x", "addresses.0", ""]
)
def test_get_path_raises_key_error_naming_a_missing_path(path: str) -> None:
    with pytest.raises(KeyError) as info:
        get_path(SNAPSHOT, path)
    assert info.value.args == (path,)


# --------------------------------------------------------------------------- with_path


def test_with_path_replaces_a_nested_value() -> None:
    result = with_path(SNAPSHOT, "party.family_name", "Schmidt")
    assert result["party"] == {"kind": "individual", "given_name": "Ana", "family_name": "Schmidt"}
    assert {k: v for k, v in result.items() if k != "party"} == {
        k: v for k, v in SNAPSHOT.items() if k != "party"
    }


def test_with_path_replaces_a_top_level_value() -> None:
    assert with_path(SNAPSHOT, "status", "closed")["status"] == "closed"


def test_with_path_does_not_mutate_its_input() -> None:
    before = copy.deepcopy(SNAPSHOT)
    with_path(SNAPSHOT, "meta.a.b.c", 99)
    with_path(SNAPSHOT, "party.family_name", "Schmidt")
    assert before == SNAPSHOT


@pytest.mark.parametrize("path", ["nope.x", "party.nope.x", "status.x", "party.family_name.x"])
def test_with_path_raises_key_error_when_a_parent_is_missing_or_not_an_object(path: str) -> None:
    with pytest.raises(KeyError) as info:
        with_path(SNAPSHOT, path, 1)
    assert info.value.args == (path,)


def test_with_path_adds_a_missing_last_key() -> None:
    """Only the parents must exist; the last key is set whether or not it was there."""
    assert with_path({"party": {}}, "party.title", "Dr")["party"] == {"title": "Dr"}


@pytest.mark.parametrize("path", ["status", "party.given_name", "meta.a.b.c", "meta.a"])
def test_get_path_reads_what_with_path_wrote(path: str) -> None:
    assert get_path(with_path(SNAPSHOT, path, "new"), path) == "new"


# --------------------------------------------------------------------------- merge_patch


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        # RFC 7386 appendix A, with null setting None instead of removing the member.
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {"a": None}),
        ({"a": "b", "b": "c"}, {"a": None}, {"a": None, "b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d", "c": None}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {"ccc": None}}}),
    ],
)
def test_merge_patch_follows_rfc_7386_with_null_as_none(
    target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert merge_patch(target, patch) == expected


def test_merge_patch_merges_nested_objects_keeping_siblings() -> None:
    result = merge_patch(SNAPSHOT, {"party": {"family_name": "Schmidt"}})
    assert result["party"] == {"kind": "individual", "given_name": "Ana", "family_name": "Schmidt"}
    assert result["addresses"] == SNAPSHOT["addresses"]


def test_merge_patch_null_sets_none_rather_than_removing() -> None:
    result = merge_patch(SNAPSHOT, {"party": {"given_name": None}})
    assert "given_name" in result["party"]
    assert result["party"]["given_name"] is None


def test_merge_patch_replaces_lists_whole() -> None:
    result = merge_patch(SNAPSHOT, {"addresses": [{"city": "Köln"}]})
    assert result["addresses"] == [{"city": "Köln"}]


def test_merge_patch_puts_an_object_over_a_scalar() -> None:
    assert merge_patch({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}


def test_merge_patch_does_not_mutate_target_or_patch() -> None:
    target, patch = copy.deepcopy(SNAPSHOT), {"party": {"family_name": "X"}, "status": None}
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    merge_patch(target, patch)
    assert (target, patch) == (target_before, patch_before)


def test_merge_patch_with_empty_patch_returns_an_equal_copy() -> None:
    result = merge_patch(SNAPSHOT, {})
    assert result == SNAPSHOT
    assert result is not SNAPSHOT


@given(JSON_OBJECTS)
def test_merge_patch_of_a_snapshot_with_itself_changes_nothing(snapshot: dict[str, Any]) -> None:
    assert merge_patch(snapshot, snapshot) == snapshot


def test_a_creation_stored_without_its_diff_reads_as_every_field_it_sets() -> None:
    snapshot = {"id": "a1", "name": "Main", "parent_id": None}
    assert stored_diff("create", {}, snapshot) == {
        "id": {"old": None, "new": "a1"},
        "name": {"old": None, "new": "Main"},
    }


def test_a_stored_diff_is_read_as_stored() -> None:
    """An update's diff, and a creation written when its diff was still stored."""
    update = {"name": {"old": "Main", "new": "Head office"}}
    assert stored_diff("update", update, {"name": "Head office"}) == update
    old_style = {"name": {"old": None, "new": "Main"}}
    assert stored_diff("create", old_style, {"name": "Main", "id": "a1"}) == old_style
