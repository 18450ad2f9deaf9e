"""Generating and reading exports streams: memory does not grow with the number of customers.

Two measures, because each sees what the other cannot:

- tracemalloc (the Python heap) for 200 and 2,000 customers in this process: the generator
  and the mapper keep nothing per record;
- the peak resident size of fresh processes for 2,000 and 20,000 customers (run side by
  side), which also covers libxml2's memory (the parsed tree that iterparse must clear) that
  tracemalloc does not see. Tracing every allocation makes the work several times slower, so
  the 20,000-customer run is measured without it.

Both use lean customers (one contract each): what matters is the number of records.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pytest

from adapter import xmlsafe
from adapter.mapping import Mappings, load_mappings
from adapter.testing.export import write_customer_export
from tests.memory import peak_rss_kib

ROOT = Path(__file__).resolve().parents[2]


def cycle(path: Path, customers: int, mappings: Mappings) -> int:
    """Write an export of ``customers`` and map every record of it back; the records read."""
    write_customer_export(path, customers, seed=2, profile="lean", mappings=mappings)
    read = 0
    with path.open("rb") as stream:
        for element in xmlsafe.iterparse(stream, mappings.record_tag("customer")):
            mappings.document("customer", element)
            read += 1
    return read


def measure(customers: int) -> None:
    """Run in a fresh process: print the records read and how much the peak resident size
    grew over a warmed-up start (KiB)."""
    mappings = load_mappings()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xml"
        cycle(path, 50, mappings)  # imports, caches and pools in place before the baseline
        before = peak_rss_kib()
        read = cycle(path, customers, mappings)
        after = peak_rss_kib()
    print(json.dumps({"read": read, "growth_kib": after - before}))


def traced_peak(path: Path, customers: int, mappings: Mappings) -> int:
    tracemalloc.start()
    try:
        assert cycle(path, customers, mappings) == customers
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_python_heap_peak_does_not_grow_with_the_number_of_customers(tmp_path: Path) -> None:
    mappings = load_mappings()
    path = tmp_path / "export.xml"
    cycle(path, 20, mappings)  # warm up: pools, caches
    small = traced_peak(path, 200, mappings)
    large = traced_peak(path, 2_000, mappings)
    assert large < small * 1.25 + 256 * 1024, (small, large)


@pytest.mark.slow
def test_resident_memory_does_not_grow_from_2000_to_20000_customers() -> None:
    code = (
        "import sys\n"
        "from tests.integration.test_export_memory import measure\n"
        "measure(int(sys.argv[1]))"
    )
    runs = {
        n: subprocess.Popen(
            [sys.executable, "-c", code, str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (2_000, 20_000)
    }
    results = {}
    for n, process in runs.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results[n] = json.loads(out)
    assert results[2_000]["read"] == 2_000 and results[20_000]["read"] == 20_000
    # a file of 20,000 customers is 30 MB and its tree far more: kept in memory, it would show
    assert results[20_000]["growth_kib"] < results[2_000]["growth_kib"] + 8 * 1024, results
