"""The two ways a mapping goes wrong: a bad file (found at load) and a value that cannot be
mapped (found at run time)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one mapping file: where (file, key path, line) and what."""

    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        at = f"{self.file}: {self.key}" if self.key else self.file
        if self.line is not None:
            at += f" (line {self.line})"
        return f"{at}: {self.message}"


class MappingError(Exception):
    """The mapping files cannot be loaded. Raised at start-up, never half-way through a call;
    the message lists every problem found, each naming its file, key path and line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = "a mapping file is invalid" if count == 1 else f"{count} mapping problems"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class MappingFailed(ValueError):
    """A value could not be mapped: a converter refused it, an enum table has no entry for
    it, a required legacy element got no value. ``where`` names the operation or document,
    the file and the rule."""

    def __init__(self, message: str, where: str = "") -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class TranslationError(MappingFailed):
    """An enum table has no entry for a value."""

    def __init__(self, table: str, value: Any, direction: str, where: str = "") -> None:
        self.table = table
        self.value = value
        self.direction = direction
        side = "canonical" if direction == "outbound" else "legacy"
        super().__init__(f"enum table {table!r} has no entry for {side} value {value!r}", where)
