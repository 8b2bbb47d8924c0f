"""Progress for people and for logs: a stage name that reads naturally, and plain throttled lines.

The engine reports (fraction, message) often (every trial, region, pass). A terminal shows a bar;
a log file (stderr not a TTY) gets plain lines instead, at most one per `step` of progress or one
every `seconds`, so a long run leaves a readable trace and a short one a few lines.
"""

from __future__ import annotations

import re
import time

_COUNTED = re.compile(r"\b(trial|region|re-clustered) \d+ of (\d+)( oversized)?")
_STAGE_WORDS = {"trial": "tuning the number of clusters ({} trials)", "region": "clustering {} regions",
                "re-clustered": "re-clustering {} oversized clusters"}


def stage_text(message: str) -> str:
    """'pass 1: trial 3 of 6' -> 'pass 1: tuning the number of clusters (6 trials)': one line per stage."""
    return _COUNTED.sub(lambda m: _STAGE_WORDS[m.group(1)].format(m.group(2)), message)


class PlainProgress:
    """Call with (fraction, message); writes `progress: 40 % <message>` lines, throttled."""

    def __init__(self, stream, seconds: float = 5.0, step: float = 0.1, clock=time.monotonic):
        self.stream, self.seconds, self.step, self.clock = stream, seconds, step, clock
        self.last_fraction, self.last_time, self.last_message = None, None, None

    def __call__(self, fraction: float, message: str) -> None:
        now = self.clock()
        if self.last_fraction is not None:
            moved = self._tenth(fraction) > self._tenth(self.last_fraction)  # crossed the next 10 % mark
            waited = now - self.last_time >= self.seconds and (fraction, message) != (self.last_fraction,
                                                                                      self.last_message)
            if not (moved or waited):
                return
        self.last_fraction, self.last_time, self.last_message = fraction, now, message
        print(f"progress: {100 * fraction:3.0f} % {message}", file=self.stream, flush=True)

    def _tenth(self, fraction: float) -> int:
        return int(fraction / self.step + 1e-9)
