"""Read-ahead in a second process: order, failures, a dying process, its peak memory."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from adapter.background import ahead


def count_to(n: int) -> Iterator[int]:
    yield from range(n)


def fail_after(n: int) -> Iterator[int]:
    yield from range(n)
    raise ValueError("record 3 is not well-formed")


def die_after(n: int) -> Iterator[int]:
    yield from range(n)
    os.kill(os.getpid(), signal.SIGKILL)
    yield -1


def test_items_arrive_in_order() -> None:
    assert list(ahead(count_to, (50,), name="counter", depth=2)) == list(range(50))


def test_a_failure_is_raised_here_with_its_type_and_message() -> None:
    seen: list[int] = []
    with pytest.raises(ValueError, match="record 3 is not well-formed"):
        seen.extend(ahead(fail_after, (3,), name="reader"))
    assert seen == [0, 1, 2]


def test_a_process_that_dies_is_reported_with_its_exit_code() -> None:
    with pytest.raises(RuntimeError, match=r"the reader stopped \(exit code -9\)"):
        list(ahead(die_after, (2,), name="the reader"))


def test_the_peak_memory_of_the_second_process_is_kept() -> None:
    made = ahead(count_to, (3,), name="counter")
    assert made.peak_rss_kib is None
    list(made)
    assert made.peak_rss_kib is not None and made.peak_rss_kib > 1024
