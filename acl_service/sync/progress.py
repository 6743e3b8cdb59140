"""Progress of a long import or export on stderr: a redrawn bar on a terminal, else plain lines."""

import sys
import time
from typing import Final, TextIO

REDRAW_SECONDS: Final = 0.2
LINE_SECONDS: Final = 5.0  # how often a non-terminal gets a line


class Progress:
    """Rows and bytes done out of `total_bytes`; the rate is rows/s, the ETA from the bytes left."""

    def __init__(self, total_bytes: int, *, stream: TextIO | None = None, label: str = "reading") -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._interval = REDRAW_SECONDS if self._tty else LINE_SECONDS
        self._total = max(total_bytes, 1)
        self._label = label
        self._started = self._last = time.monotonic()
        self.rows = 0
        self._bytes = 0

    def advance(self, rows: int, size: int) -> None:
        self.rows += rows
        self._bytes += size
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._show(now)

    def phase(self, label: str) -> None:
        """A new step without a measurable size (applying the staged rows)."""
        self._end_line()
        print(f"{label} ...", file=self._stream, flush=True)

    def finish(self) -> None:
        self._show(time.monotonic())
        self._end_line()

    def _show(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        rate = self.rows / elapsed
        done = min(self._bytes / self._total, 1.0)
        eta = elapsed * (1 - done) / done if done > 0 else 0.0
        text = f"{self._label}: {self.rows:,} rows  {rate:,.0f} rows/s  {done:6.1%}  ETA {eta:4.0f} s"
        if self._tty:
            width = 24
            bar = "#" * round(done * width)
            print(f"\r[{bar:<{width}}] {text}", end="", file=self._stream, flush=True)
        else:
            print(text, file=self._stream, flush=True)

    def _end_line(self) -> None:
        if self._tty:
            print(file=self._stream, flush=True)
