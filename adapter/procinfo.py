"""Facts about the running process that reports print."""

from __future__ import annotations

import re
import resource
from pathlib import Path


def peak_rss_kib() -> int:
    """The high-water mark of this process's resident memory, in KiB.

    ``VmHWM`` on Linux: it belongs to the address space, which ``exec`` replaces, whereas
    ``ru_maxrss`` is carried over ``exec`` from the forking process (a child of a large parent
    would report the parent's peak). Elsewhere, ``ru_maxrss``."""
    try:
        found = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    except OSError:
        found = None
    if found is not None:
        return int(found.group(1))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
