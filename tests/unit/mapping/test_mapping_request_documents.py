"""Request document maps (mappings/documents/requests/): a document map with ``request:``
writes the fields of that operation's envelope, checked at load like every map, with errors
that name the file, the key and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapter.mapping import REQUESTS_NAMESPACE, MappingError, MappingFailed, Problem, load_mappings
from adapter.paths import MAPPINGS_DIR

FOLDER = "documents/requests"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the project's mappings to break."""
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, target)
    return target


def edit(folder: Path, name: str, old: str, new: str) -> int:
    """Replace ``old`` once; the line of the change."""
    path = folder / FOLDER / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def only(folder: Path) -> Problem:
    with pytest.raises(MappingError) as caught:
        load_mappings(folder)
    found = caught.value.problems
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_each_body_element_maps_to_one_operation() -> None:
    bodies = load_mappings().request_bodies
    assert bodies[f"{{{REQUESTS_NAMESPACE}}}contractNew"] == (
        "contract.create",
        "request contract.create",
    )


def test_an_unknown_operation_names_the_file_line_and_the_known_ones(folder: Path) -> None:
    line = edit(
        folder, "contract_create.yaml", "request: contract.create", "request: contract.make"
    )
    problem = only(folder)
    assert (problem.file, problem.key, problem.line) == (
        f"{FOLDER}/contract_create.yaml",
        "request",
        line,
    )
    assert "unknown operation 'contract.make'" in problem.message
    assert "contract.create" in problem.message


def test_a_payload_field_the_command_does_not_have_is_a_load_error(folder: Path) -> None:
    line = edit(
        folder, "contract_create.yaml", "canonical: payload.rate_plan", "canonical: payload.tariff"
    )
    problem = only(folder)
    assert problem.file == f"{FOLDER}/contract_create.yaml"
    assert problem.line == line
    assert "'tariff' is not a field of payload" in problem.message


def test_a_patch_field_is_checked_against_the_entity_it_patches(folder: Path) -> None:
    """customer.update's patch types the party as a free dict; the map is still checked
    against the customer's party."""
    line = edit(
        folder,
        "customer_update.yaml",
        "canonical: payload.patch.party.given_name",
        "canonical: payload.patch.party.first_name",
    )
    problem = only(folder)
    assert problem.line == line
    assert "'first_name' is not a field of payload.patch.party" in problem.message


def test_an_enum_table_with_codes_the_payload_does_not_allow_is_a_load_error(
    folder: Path,
) -> None:
    """A new contract starts on hold or active: the contract_statuses table (with suspended
    and deactivated) cannot be used for it."""
    line = edit(
        folder, "contract_create.yaml", "enum: new_contract_statuses", "enum: contract_statuses"
    )
    problem = only(folder)
    assert problem.line == line
    assert "canonical values ['deactivated', 'suspended']" in problem.message


def test_two_maps_of_one_operation_are_refused(folder: Path) -> None:
    source = folder / FOLDER / "discount_remove.yaml"
    copy = folder / FOLDER / "discount_remove_again.yaml"
    copy.write_text(
        source.read_text(encoding="utf-8").replace(
            "document: request discount.remove", "document: another discount.remove"
        ),
        encoding="utf-8",
    )
    problem = only(folder)
    assert problem.file == f"{FOLDER}/discount_remove_again.yaml"
    assert "discount.remove is already mapped in documents/requests/discount_remove.yaml" in (
        problem.message
    )


def test_a_body_element_the_schema_does_not_declare_is_a_load_error(folder: Path) -> None:
    line = edit(folder, "discount_remove.yaml", "record: req:discountRemove", "record: req:dscRm")
    problem = only(folder)
    assert (problem.key, problem.line) == ("record", line)
    assert "requests.xsd declares no element 'dscRm'" in problem.message


def test_an_unmapped_body_element_is_refused_naming_the_mapped_ones() -> None:
    with pytest.raises(MappingFailed, match=r"mapped: .*contractNew"):
        load_mappings().request_document(f"{{{REQUESTS_NAMESPACE}}}contractFrobnicate")


def test_one_body_element_mapped_for_two_operations_is_refused(folder: Path) -> None:
    line = edit(
        folder, "discount_remove.yaml", "record: req:discountRemove", "record: req:customerNew"
    )
    problem = only(folder)
    assert (problem.file, problem.key, problem.line) == (
        f"{FOLDER}/discount_remove.yaml",
        "record",
        line,
    )
    assert "req:customerNew is already mapped in documents/requests/customer_create.yaml" in (
        problem.message
    )
