"""Pause the cyclic garbage collector during allocation-heavy, await-free report work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Counting a big round allocates hundreds of thousands of floats, lists and dicts, and the
    collector would stop to scan the whole heap many times (about 10-15% of a report's time).
    These objects form no reference cycles, so reference counting frees them anyway. Use only
    around code without `await`: no other task runs meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
