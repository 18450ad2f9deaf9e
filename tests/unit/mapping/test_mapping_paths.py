"""The dotted path language: parsing, reading with selectors, writing into nested dicts."""

from __future__ import annotations

import pytest

from adapter.mapping.paths import MISSING, PathSyntaxError, container, parse_path, read

DATA = {
    "customer": {
        "identifications": [
            {"type": "personal_id", "value": "P1"},
            {"type": "tin", "value": "T1"},
        ],
        "addresses": [{"city": "Lyon", "lines": ["a"]}, {"city": "Nice", "lines": ["b", "c"]}],
        "segment": "",
        "flag": True,
    }
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("customer.identifications[type=tin].value", "T1"),
        ("customer.identifications[ type = personal_id ].value", "P1"),
        ("customer.identifications[type=passport].value", MISSING),
        ("customer.addresses[0].city", "Lyon"),
        ("customer.addresses[-1].city", "Nice"),
        ("customer.addresses[5].city", MISSING),
        ("customer.addresses[*].city", ["Lyon", "Nice"]),
        ("customer.addresses[*].lines", [["a"], ["b", "c"]]),
        ("customer.segment", MISSING),  # an empty string counts as absent
        ("customer.nothing.deeper", MISSING),
        ("customer.flag", True),
    ],
)
def test_reading(path: str, value: object) -> None:
    assert read(DATA, parse_path(path)) == value


def test_a_root_path_reads_from_the_root_inside_an_item() -> None:
    item = DATA["customer"]["addresses"][0]
    assert read(item, parse_path("$.customer.flag"), root=DATA) is True
    assert read(item, parse_path("city"), root=DATA) == "Lyon"


def test_a_selector_compares_booleans_as_xml_text() -> None:
    data = {"items": [{"on": False, "v": 1}, {"on": True, "v": 2}]}
    assert read(data, parse_path("items[on=true].v")) == 2


def test_writing_finds_or_appends_the_selected_item() -> None:
    target: dict[str, object] = {}
    path = parse_path("customer.identifications[type=tin].value")
    container(target, path)["value"] = "T1"
    container(target, parse_path("customer.identifications[type=passport].value"))["value"] = "X"
    container(target, path)["value"] = "T2"
    assert target == {
        "customer": {
            "identifications": [{"type": "tin", "value": "T2"}, {"type": "passport", "value": "X"}]
        }
    }


@pytest.mark.parametrize(
    ("path", "writable"),
    [
        ("a.b", True),
        ("a[k=v].b", True),
        ("a[*].b", False),
        ("a[0].b", False),
        ("a.b[k=v]", False),
        ("$.a.b", False),
    ],
)
def test_only_match_selectors_before_the_end_can_be_written(path: str, writable: bool) -> None:
    assert parse_path(path).writable is writable


@pytest.mark.parametrize("text", ["", "a..b", "a.", ".a", "a[k=]", "a[=v]", "a[1.5]", "1a", "a b"])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(text)
