"""Pure functions over snapshots: diffs between versions and field-level restore."""

from __future__ import annotations

from typing import Any

MISSING: Any = None


def diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Changed fields between two snapshots, as ``{dotted.path: {"old": …, "new": …}}``.

    Nested objects are walked so that a changed birth date reads ``party.birth_date`` rather
    than the whole party; lists are compared whole (their items have no stable key)."""
    if old is None or new is None:  # a creation or deletion: every top-level value that is set
        whole = new if old is None else old
        if whole is None:
            return {}
        side = "new" if old is None else "old"
        other = "old" if old is None else "new"
        return {
            key: {other: MISSING, side: value}
            for key, value in sorted(whole.items())
            if value is not MISSING
        }
    changes: dict[str, dict[str, Any]] = {}
    stack: list[tuple[str, Any, Any]] = [("", old or {}, new or {})]
    while stack:
        prefix, before, after = stack.pop()
        for key in sorted(set(before) | set(after)):
            path = f"{prefix}{key}"
            a = before.get(key, MISSING)
            b = after.get(key, MISSING)
            if a == b:
                continue
            if isinstance(a, dict) and isinstance(b, dict):
                stack.append((f"{path}.", a, b))
            else:
                changes[path] = {"old": a, "new": b}
    return dict(sorted(changes.items()))


def stored_diff(
    op: str, stored: dict[str, dict[str, Any]], snapshot: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """The diff of a version row as readers show it. A creation's row stores an empty diff:
    every field its snapshot sets is new, so the snapshot says it all, and storing it twice
    took a third of the version table (rows written before that carry it and read the same)."""
    if op == "create" and not stored and snapshot is not None:
        return diff(None, snapshot)
    return stored


def get_path(snapshot: dict[str, Any], path: str) -> Any:
    """The value at a dotted path; ``KeyError`` naming the path if it is not there."""
    node: Any = snapshot
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def with_path(snapshot: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``snapshot`` with the value at a dotted path replaced."""
    parts = path.split(".")
    result = dict(snapshot)
    node = result
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            raise KeyError(path)
        node[part] = dict(child)
        node = node[part]
    node[parts[-1]] = value
    return result
