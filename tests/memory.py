"""Peak resident memory of the current process, for tests that prove memory stays flat.

``resource.getrusage(...).ru_maxrss`` is no good in a child started by the test run: Linux
carries it over ``exec`` from the forking process, so a child of a 300 MB pytest reports at
least 300 MB whatever it does. ``VmHWM`` belongs to the address space, which ``exec`` replaces."""

from __future__ import annotations

import re
from pathlib import Path


def peak_rss_kib() -> int:
    """The high-water mark of this process's resident memory, in KiB (Linux)."""
    found = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    if found is None:
        raise RuntimeError("no VmHWM in /proc/self/status")
    return int(found.group(1))
