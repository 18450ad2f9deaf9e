"""The subtree's garbage-collector pause leaves the collector as it found it."""

from __future__ import annotations

import gc

from adapter.queries.hierarchy import _no_collection


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    assert gc.isenabled()
    with _no_collection():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_someone_else_switched_off_stays_off() -> None:
    gc.disable()
    try:
        with _no_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
