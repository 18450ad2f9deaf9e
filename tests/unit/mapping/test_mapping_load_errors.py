"""A broken mapping file stops the load with an error that names the file, the key path and
the line (DESIGN 6: "validated at start-up with an error that names the file and line")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapter.mapping import MappingError, Problem, load_mappings
from adapter.paths import MAPPINGS_DIR


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the project's mappings to break."""
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, target)
    return target


def edit(folder: Path, name: str, old: str, new: str, count: int = 1) -> int:
    """Replace the first ``count`` occurrences of ``old``; the line of the first change."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return line


def problems(folder: Path) -> tuple[Problem, ...]:
    with pytest.raises(MappingError) as caught:
        load_mappings(folder)
    return caught.value.problems


def only(folder: Path) -> Problem:
    found = problems(folder)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_the_project_mappings_load(folder: Path) -> None:
    assert len(load_mappings(folder).operations) == 18


def test_an_unknown_key(folder: Path) -> None:
    line = edit(
        folder,
        "operations/contract_new.yaml",
        "    canonical: contract.number",
        "    canonicl: contract.number",
    )
    problem = only(folder)
    assert problem.file == "operations/contract_new.yaml"
    assert problem.key == "outbound[2].canonicl"
    assert problem.line == line
    assert "unknown key 'canonicl'" in problem.message


def test_an_unknown_converter(folder: Path) -> None:
    line = edit(
        folder,
        "operations/contract_new.yaml",
        "convert: msisdn_e164_to_bscs",
        "convert: msisdn_to_bscs",
    )
    problem = only(folder)
    assert (problem.file, problem.key, problem.line) == (
        "operations/contract_new.yaml",
        "outbound[4].convert",
        line,
    )
    assert "unknown converter 'msisdn_to_bscs'" in problem.message


def test_a_converter_argument_that_is_not_allowed(folder: Path) -> None:
    edit(folder, "documents/usage_batch.yaml", "stable_id(usage)", "stable_id(invoice)")
    problem = only(folder)
    assert (problem.file, problem.key) == ("documents/usage_batch.yaml", "rules[0].convert")
    assert "'invoice' is not an argument of 'stable_id'" in problem.message


def test_an_unknown_enum_table(folder: Path) -> None:
    line = edit(
        folder, "operations/contract_new.yaml", "enum: contract_statuses", "enum: contract_states"
    )
    problem = only(folder)
    assert (problem.file, problem.key, problem.line) == (
        "operations/contract_new.yaml",
        "outbound[7].enum",
        line,
    )
    assert "unknown enum table 'contract_states'" in problem.message


def test_an_xpath_that_does_not_compile(folder: Path) -> None:
    line = edit(
        folder, "documents/usage_batch.yaml", "xpath: exp:startTime", "xpath: exp:startTime["
    )
    problem = only(folder)
    assert (problem.file, problem.key, problem.line) == (
        "documents/usage_batch.yaml",
        "rules[5].xpath",
        line,
    )
    assert "does not compile" in problem.message


def test_an_xpath_with_an_undeclared_prefix(folder: Path) -> None:
    edit(folder, "documents/usage_batch.yaml", "xpath: exp:otherParty", "xpath: bscs:otherParty")
    problem = only(folder)
    assert problem.key == "rules[8].xpath"
    assert "bscs" in problem.message


def test_an_xpath_naming_an_element_the_export_schema_does_not_declare(folder: Path) -> None:
    edit(folder, "documents/customer_export.yaml", "exp:data/exp:segment", "exp:data/exp:segmnt")
    problem = only(folder)
    assert (problem.file, problem.key) == ("documents/customer_export.yaml", "rules[3].xpath")
    assert "cil-export.xsd declares no element 'segmnt'" in problem.message


def test_an_unknown_operation(folder: Path) -> None:
    line = edit(
        folder,
        "operations/contract_new.yaml",
        "operation: ContractNew",
        "operation: ContractCreate",
    )
    problem = only(folder)
    assert (problem.file, problem.key, problem.line) == (
        "operations/contract_new.yaml",
        "operation",
        line,
    )
    assert "unknown operation 'ContractCreate'" in problem.message


def test_an_operation_mapped_twice(folder: Path) -> None:
    shutil.copy(folder / "operations/contract_new.yaml", folder / "operations/contract_new_2.yaml")
    problem = only(folder)
    assert problem.file == "operations/contract_new_2.yaml"
    assert "already mapped in operations/contract_new.yaml" in problem.message


def test_an_outbound_element_the_request_does_not_have(folder: Path) -> None:
    line = edit(folder, "operations/contract_new.yaml", "legacy: dnNum", "legacy: dnNumber")
    problem = only(folder)
    assert (problem.key, problem.line) == ("outbound[4].legacy", line)
    assert "'dnNumber' is not an element of inputAttributes" in problem.message


def test_an_inbound_element_the_response_does_not_have(folder: Path) -> None:
    edit(folder, "operations/contract_read.yaml", "  - legacy: rpCode", "  - legacy: ratePlan")
    problem = only(folder)
    assert problem.key == "inbound[6].legacy"
    assert "'ratePlan' is not an element of contractReadResponse" in problem.message


def test_a_path_through_a_repeated_element_needs_a_selector(folder: Path) -> None:
    edit(
        folder,
        "operations/balances_read.yaml",
        "legacy: balances.balance",
        "legacy: balances.balance.asOf",
    )
    problem = only(folder)
    assert problem.key == "inbound[0].legacy"
    assert "balance repeats" in problem.message


def test_an_unknown_canonical_field(folder: Path) -> None:
    line = edit(
        folder,
        "operations/contract_new.yaml",
        "canonical: subscriber.msisdn",
        "canonical: subscriber.msisdnn",
    )
    problem = only(folder)
    assert (problem.key, problem.line) == ("outbound[4].canonical", line)
    assert "'msisdnn' is not a field of subscriber" in problem.message


def test_an_unknown_canonical_root(folder: Path) -> None:
    edit(
        folder,
        "operations/discount_remove.yaml",
        "canonical: legacy_ids.assign_id",
        "canonical: ids.assign_id",
    )
    problem = only(folder)
    assert "'ids' is not a field of the root" in problem.message


def test_a_selector_value_the_canonical_enum_does_not_have(folder: Path) -> None:
    """The fragment is used by three operations; the problem is reported once, in the fragment."""
    line = edit(
        folder,
        "fragments/customer_data.yaml",
        "identifications[type=tin]",
        "identifications[type=vat]",
    )
    problem = only(folder)
    assert (problem.file, problem.key, problem.line) == (
        "fragments/customer_data.yaml",
        "rules[9].canonical",
        line,
    )
    assert "'vat' is not a value of identifications.type" in problem.message
    assert "fragment as used by" in problem.message


def test_a_canonical_path_through_a_list_needs_a_selector(folder: Path) -> None:
    edit(folder, "fragments/customer_data.yaml", "customer.segment", "customer.addresses.city")
    problem = only(folder)
    assert "addresses is a list" in problem.message


def test_an_enum_code_the_xsd_type_does_not_allow(folder: Path) -> None:
    """A typo in a table is caught where the table meets an element of an enumerated type."""
    edit(folder, "enums.yaml", "      on_hold: o\n", "      on_hold: h\n")
    found = problems(folder)
    assert any(
        p.file == "operations/contract_new.yaml"
        and p.key == "outbound[7].enum"
        and "legacy values ['h'] that ContractStatus does not allow" in p.message
        for p in found
    ), found


def test_an_enum_table_that_is_not_one_to_one(folder: Path) -> None:
    line = edit(
        folder,
        "enums.yaml",
        "      suspended: S\n      deactivated: D\n",
        "      suspended: S\n      deactivated: S\n",
    )
    found = problems(folder)
    table = [p for p in found if p.file == "enums.yaml"]
    assert table and table[0].key == "enums.service_statuses"
    assert "legacy value 'S' is given for both" in table[0].message
    assert table[0].line is not None and table[0].line < line


def test_an_unknown_fragment(folder: Path) -> None:
    edit(folder, "operations/address_write.yaml", "include: address", "include: adress")
    problem = only(folder)
    assert (problem.file, problem.key) == ("operations/address_write.yaml", "outbound[4].include")
    assert "unknown fragment 'adress'" in problem.message


def test_a_converter_without_inverse_in_a_fragment_used_inbound(folder: Path) -> None:
    edit(
        folder,
        "fragments/service.yaml",
        "    canonical: service_code\n",
        "    canonical: service_code\n    convert: to_code\n",
    )
    found = problems(folder)
    assert {p.file for p in found} == {"fragments/service.yaml"}
    assert all(p.key == "rules[0].convert" for p in found)
    assert "to_code has no inverse" in found[0].message


def test_a_key_given_twice(folder: Path) -> None:
    line = edit(
        folder,
        "operations/discount_remove.yaml",
        "    convert: integer",
        "    convert: integer\n    convert: decimal",
    )
    problem = only(folder)
    assert (problem.key, problem.line) == ("outbound[0].convert", line + 1)
    assert "key given twice" in problem.message


def test_a_file_that_is_not_yaml(folder: Path) -> None:
    (folder / "operations/broken.yaml").write_text(
        "operation: X\noutbound:\n  - legacy: [a\n", encoding="utf-8"
    )
    problem = only(folder)
    assert problem.file == "operations/broken.yaml"
    assert "is not valid YAML" in problem.message and problem.line is not None


def test_a_file_of_no_known_kind(folder: Path) -> None:
    (folder / "notes.yaml").write_text("hello: world\n", encoding="utf-8")
    problem = only(folder)
    assert problem.file == "notes.yaml"
    assert "none of the keys operation, fragment, document, enums" in problem.message


def test_a_rule_of_no_known_kind(folder: Path) -> None:
    edit(folder, "operations/discount_remove.yaml", "    canonical: legacy_ids.assign_id\n", "")
    problem = only(folder)
    assert problem.key == "outbound[0]"
    assert "names no canonical field" in problem.message


def test_every_problem_of_every_file_is_reported_at_once(folder: Path) -> None:
    edit(folder, "operations/contract_new.yaml", "enum: contract_statuses", "enum: contract_states")
    edit(folder, "documents/usage_batch.yaml", "xpath: exp:startTime", "xpath: exp:startTime[")
    error_text = ""
    with pytest.raises(MappingError) as caught:
        load_mappings(folder)
    error_text = str(caught.value)
    assert "2 mapping problems" in error_text
    assert "operations/contract_new.yaml: outbound[7].enum (line " in error_text
    assert "documents/usage_batch.yaml: rules[5].xpath (line " in error_text


def test_a_missing_folder(tmp_path: Path) -> None:
    problem = only(tmp_path / "nowhere")
    assert "is not a folder" in problem.message
