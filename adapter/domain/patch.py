"""JSON merge patch (RFC 7386) over snapshots: objects merge, lists replace, and ``null`` sets
the field to null (a model field cannot be removed, only emptied)."""

from __future__ import annotations

from typing import Any


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result[key] = None
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = value
    return result
