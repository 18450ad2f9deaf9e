"""Items made by a second process while this one works: the read-ahead of bulk loads.

``ahead(produce, args, name=…)`` starts ``produce(*args)`` — a generator function, picklable
by reference — in a spawned process (``spawn``: it inherits no engine, pool or open
connection) and yields what it yields, in order, with at most ``depth`` items waiting. A
failure in the second process is raised here with its own type and message (and its
traceback as a note); a second process that dies without a word is reported with its exit
code. Leaving the loop early stops it. Its peak resident memory is kept on the iterator.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from adapter.procinfo import peak_rss_kib


class _End:
    def __init__(self, peak_kib: int) -> None:
        self.peak_kib = peak_kib


class _Failed:
    def __init__(self, error: BaseException, trace: str) -> None:
        self.error = error
        self.trace = trace


class Ahead:
    """The iterator ``ahead`` returns; ``peak_rss_kib`` is the second process's peak once it
    has finished (``None`` before)."""

    def __init__(
        self,
        produce: Callable[..., Iterable[Any]],
        args: tuple[Any, ...],
        name: str,
        depth: int,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._queue: Any = context.Queue(maxsize=depth)
        self._process: Any = context.Process(
            target=_run, args=(produce, args, self._queue), name=name, daemon=True
        )
        self.name = name
        self.peak_rss_kib: int | None = None

    def __iter__(self) -> Iterator[Any]:
        self._process.start()
        # A thread of this process takes the items off the pipe and unpickles them while the
        # consumer works: a consumer that mostly waits on a database (the seed's writer) then
        # unpickles the next batch during those waits instead of after them.
        taken: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()
        puller = threading.Thread(
            target=self._pull, args=(taken, stop), name=f"{self.name} reader", daemon=True
        )
        puller.start()
        try:
            while True:
                item = taken.get()
                if isinstance(item, _End):
                    self.peak_rss_kib = item.peak_kib
                    return
                if isinstance(item, _Failed):
                    item.error.add_note(f"in {self.name}:\n{item.trace}")
                    raise item.error
                yield item
        finally:
            stop.set()
            self._process.terminate()
            self._process.join()
            puller.join(timeout=5)  # it notices the stop within a second

    def _pull(self, taken: queue.Queue[Any], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                item = self._take()
            except BaseException as exc:  # the second process died: the consumer raises it
                item = _Failed(exc, traceback.format_exc()) if not stop.is_set() else None
            while item is not None and not stop.is_set():
                try:
                    taken.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if item is None or isinstance(item, (_End, _Failed)):
                return

    def _take(self) -> Any:
        while True:
            try:
                return self._queue.get(timeout=1.0)
            except queue.Empty:
                if not self._process.is_alive():
                    raise RuntimeError(
                        f"{self.name} stopped (exit code {self._process.exitcode})"
                    ) from None


def ahead(
    produce: Callable[..., Iterable[Any]], args: tuple[Any, ...], *, name: str, depth: int = 4
) -> Ahead:
    """What ``produce(*args)`` yields, made in a second process (see the module docstring)."""
    return Ahead(produce, args, name, depth)


def _run(produce: Callable[..., Iterable[Any]], args: tuple[Any, ...], queue: Any) -> None:
    try:
        for item in produce(*args):
            queue.put(item)
    except BaseException as exc:  # reported to the consuming process, which raises it
        try:
            queue.put(_Failed(exc, traceback.format_exc()))
        except Exception:
            queue.put(_Failed(RuntimeError(f"{type(exc).__name__}: {exc}"), traceback.format_exc()))
        return
    queue.put(_End(peak_rss_kib()))
