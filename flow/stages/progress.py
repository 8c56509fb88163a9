"""One line per step on stderr: ``[i/n] title: name ... done (s)``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Progress"]


class Progress:
    """Counts steps toward ``total``; ``run(name, fn)`` prints the step, calls ``fn`` and returns its result."""

    def __init__(self, title: str, total: int, enabled: bool = True) -> None:
        self.title, self.total, self.enabled, self.index = title, total, enabled, 0

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.index += 1
        start = time.perf_counter()
        if self.enabled:
            print(f"[{self.index}/{self.total}] {self.title}: {name} ...", end="", file=sys.stderr, flush=True)
        try:
            result = fn()
        except BaseException:
            if self.enabled:
                print(" failed", file=sys.stderr, flush=True)
            raise
        if self.enabled:
            print(f" done ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
        return result
