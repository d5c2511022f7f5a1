"""The sctpmh command as real processes for the CLI tests: start one, read its output line by
line with a time limit, stop it."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

SCTPMH = [sys.executable, "-m", "sctpmh.cli"]
# Generous: every process start is slow under the lab's software emulation.
WAIT = 120.0


def command(*args: str, netns: str | None = None) -> list[str]:
    """The sctpmh command line, inside namespace ``netns`` when given."""
    return [*(["ip", "netns", "exec", netns] if netns else []), *SCTPMH, *args]


class Running:
    """An sctpmh command running in the background; a thread reads its stdout line by line
    so the test can wait for a line with a time limit instead of blocking for ever."""

    def __init__(self, argv: list[str]) -> None:
        self.name = " ".join(argv)
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.removesuffix("\n"))
        self._lines.put(None)

    def line(self) -> str:
        """The next line of output (without its newline)."""
        try:
            line = self._lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no output from {self.name} in {WAIT} s") from None
        if line is None:
            raise AssertionError(f"{self.name} ended: {self.stderr()}")
        return line

    def block(self) -> list[str]:
        """The lines up to the next blank line (one refresh of ``sctpmh paths``)."""
        lines = []
        while line := self.line():
            lines.append(line)
        return lines

    def stderr(self) -> str:
        self.process.wait(timeout=WAIT)
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def finish(self) -> tuple[int, list[str], str]:
        """Wait for the end; the exit status, the rest of stdout and all of stderr."""
        status = self.process.wait(timeout=WAIT)
        rest = []
        while (line := self._lines.get(timeout=WAIT)) is not None:
            rest.append(line)
        return status, rest, self.stderr()

    def interrupt(self) -> tuple[int, list[str], str]:
        """Ctrl-C, then :meth:`finish`."""
        self.process.send_signal(signal.SIGINT)
        return self.finish()


@contextlib.contextmanager
def running(argv: list[str]) -> Iterator[Running]:
    """Run ``argv`` in the background and make sure it is gone afterwards."""
    process = Running(argv)
    try:
        yield process
    finally:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=WAIT)
