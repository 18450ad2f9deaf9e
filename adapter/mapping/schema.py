"""The format of a mapping file, as pydantic models: what keys exist and what they hold.

Every model forbids unknown keys, so a misspelt key (``canonicl:``) is a load error that names
the file, the key path and the line. What the values *mean* (does the path exist, is the
converter known, does the XPath compile) is checked afterwards by the loader, which knows the
XSD and the canonical model. The format is described for people in docs/mapping-guide.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _listed(value: Any) -> Any:
    """A single value where a list is expected is a list of one (``convert: upper``)."""
    if value is None or isinstance(value, list):
        return value
    return [value]


class ConditionSpec(_Strict):
    """``when:`` a value on the canonical side, the legacy side or (documents) an XPath,
    compared with ``equals``, ``not_equals``, ``in`` or tested with ``present``."""

    canonical: str | None = None
    legacy: str | None = None
    xpath: str | None = None
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    present: bool | None = None

    @model_validator(mode="after")
    def _one_side_one_test(self) -> ConditionSpec:
        sides = [k for k in ("canonical", "legacy", "xpath") if getattr(self, k) is not None]
        if len(sides) != 1:
            raise ValueError("a condition names exactly one of canonical, legacy or xpath")
        tests = [k for k in ("equals", "not_equals", "in", "present") if k in self._given()]
        if len(tests) != 1:
            raise ValueError("a condition has exactly one of equals, not_equals, in, present")
        return self

    def _given(self) -> set[str]:
        return {"in" if f == "in_" else f for f in self.model_fields_set}


class MultiSpec(_Strict):
    """A repeated legacy element that stands for several canonical items: a BSCS address
    with roles B and R is two canonical addresses (split inbound, merged outbound)."""

    legacy: str
    canonical: str


class RuleSpec(_Strict):
    """One rule. Three kinds, told apart by their keys:

    - field rule: ``legacy`` (or ``xpath`` in documents) and ``canonical`` (or ``const``);
    - list rule: the same plus ``items``, a list of rules for each item;
    - include: ``include`` names a fragment whose rules are used here.
    """

    legacy: str | None = None
    xpath: str | None = None
    canonical: list[str] | None = None
    const: Any = None
    default: Any = None
    enum: str | None = None
    convert: list[str] = Field(default_factory=list)
    when: list[ConditionSpec] = Field(default_factory=list)
    unknown: Literal["error", "skip"] = "error"
    direction: Literal["outbound", "inbound"] | None = None
    items: list[RuleSpec] | None = None
    form: Literal["list", "map"] = "list"
    multi: MultiSpec | None = None
    include: str | None = None
    legacy_prefix: str | None = None
    canonical_prefix: str | None = None
    note: str | None = None

    _listify = field_validator("canonical", "convert", "when", mode="before")(_listed)

    @property
    def has_const(self) -> bool:
        return "const" in self.model_fields_set

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set

    @model_validator(mode="after")
    def _coherent(self) -> RuleSpec:
        given = self.model_fields_set - {"note", "direction", "when"}
        if self.include is not None:
            extra = given - {"include", "legacy_prefix", "canonical_prefix"}
            if extra:
                raise ValueError(f"an include takes no {', '.join(sorted(extra))}")
            return self
        if self.legacy_prefix is not None or self.canonical_prefix is not None:
            raise ValueError("legacy_prefix and canonical_prefix belong to an include")
        if self.legacy is not None and self.xpath is not None:
            raise ValueError("a rule has legacy (operations) or xpath (documents), not both")
        if self.items is not None:
            if self.has_const or self.enum or self.convert or self.has_default:
                raise ValueError("a list rule (items) takes no const, default, enum or convert")
            if self.canonical is None or len(self.canonical) != 1:
                raise ValueError("a list rule names one canonical list")
            if self.legacy is None and self.xpath is None:
                raise ValueError("a list rule names its legacy list (legacy or xpath)")
            return self
        if self.form != "list" or self.multi is not None:
            raise ValueError("form and multi belong to a list rule (with items)")
        if self.legacy is None and self.xpath is None and self.canonical is None:
            raise ValueError("a rule needs legacy (or xpath), canonical, or include")
        if self.has_const and self.legacy is not None and self.canonical is not None:
            raise ValueError("const replaces the source: give legacy or canonical, not both")
        return self


class OperationFile(_Strict):
    """The maps of one WSDL operation: ``outbound`` builds its inputAttributes from the
    canonical context, ``inbound`` reads its response into canonical fields."""

    operation: str
    description: str | None = None
    outbound: list[RuleSpec] | None = None
    inbound: list[RuleSpec] | None = None


class FragmentFile(_Strict):
    """Rules shared by several operations (written in the outbound orientation: converters
    turn canonical values into legacy ones)."""

    fragment: str
    description: str | None = None
    rules: list[RuleSpec]


class DocumentFile(_Strict):
    """An XPath map for one record of an inbound legacy XML document.

    With ``request`` (an operation of the request envelope, ``customer.create``) the record
    is the body element of a BSCS-style request document and the rules write the fields of
    that operation's envelope (``request_id``, ``payload.party.given_name``…) instead of
    canonical entities; lists that the document does not give are left out rather than
    written empty (an absent list and an empty one mean different things to a command)."""

    document: str
    description: str | None = None
    request: str | None = None
    namespaces: dict[str, str]
    root: str  # the document's root element, prefix:name
    record: str  # the element handed over for each record, prefix:name
    rules: list[RuleSpec]


class EnumSpec(_Strict):
    description: str | None = None
    values: dict[Any, Any]
    inbound_only: dict[Any, Any] = Field(default_factory=dict)


class EnumsFile(_Strict):
    enums: dict[str, EnumSpec]


FILE_KINDS: dict[str, type[_Strict]] = {
    "operation": OperationFile,
    "fragment": FragmentFile,
    "document": DocumentFile,
    "enums": EnumsFile,
}
