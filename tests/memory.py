"""Peak resident memory for tests that prove memory stays flat (see adapter.procinfo)."""

from adapter.procinfo import peak_rss_kib

__all__ = ["peak_rss_kib"]
