"""Progress of many runs on stderr: a tqdm bar on a terminal, plain lines in a log.

A bar redraws itself with carriage returns; written to a file or a CI log it leaves control
characters and one very long line. With a non-terminal stderr, :func:`progress` prints a few
plain lines instead (``runs: 3/20``), each ending in a newline: at most about ten per ensemble
and none more often than every ``min_seconds``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class PlainProgress:
    """Progress as occasional whole lines (``desc: done/total``), for logs and pipes."""

    def __init__(self, total: int, *, initial: int = 0, desc: str = "runs",
                 file: TextIO | None = None, min_seconds: float = 10.0) -> None:
        self.total, self.n, self.desc = total, initial, desc
        self.file = file or sys.stderr
        self.min_seconds = min_seconds
        self._step = max(1, total // 10)
        self._last_n, self._last_t = initial, time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.n == self.total or (self.n - self._last_n >= self._step
                                    and now - self._last_t >= self.min_seconds):
            self._write()
            self._last_n, self._last_t = self.n, now

    def _write(self) -> None:
        print(f"{self.desc}: {self.n}/{self.total}", file=self.file, flush=True)

    def close(self) -> None:
        """Nothing to clear: every line already ends in a newline."""


def progress(total: int, *, initial: int = 0, desc: str = "runs", file: TextIO | None = None):
    """A tqdm bar when ``file`` (default stderr) is a terminal, else :class:`PlainProgress`.

    Both have ``update(n=1)`` and ``close()``; close it in a ``finally`` so a message printed
    after an interruption starts on its own line.
    """
    file = file or sys.stderr
    if getattr(file, "isatty", lambda: False)():
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="run", desc=desc, file=file)
    return PlainProgress(total, initial=initial, desc=desc, file=file)
