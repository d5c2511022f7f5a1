"""Putting a refreshed block of text on the terminal, the way ``top`` does, or on a log.

On a terminal each block replaces the previous one in place (ANSI/ECMA-48 control
sequences: cursor home, erase to the end of each line and below) and the cursor is hidden
until the screen is closed, even when the command ends by Ctrl-C or an error. Anywhere else
(a pipe, a file) each block is printed as plain text followed by a blank line, so the output
can be logged and parsed.
"""

from __future__ import annotations

import shutil
from types import TracebackType
from typing import TextIO

__all__ = ["Screen"]

CURSOR_HOME = "\x1b[H"
CLEAR_SCREEN = "\x1b[2J"
ERASE_TO_END_OF_LINE = "\x1b[K"
ERASE_BELOW = "\x1b[J"
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"


class Screen:
    """Shows blocks of text on ``stream``; a context manager that restores the cursor."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._in_place = stream.isatty()
        self._started = False

    @property
    def in_place(self) -> bool:
        """True when blocks replace each other (a terminal), False when they follow."""
        return self._in_place

    def show(self, text: str) -> None:
        """Put ``text`` on the screen in place of the previous block."""
        if not self._in_place:
            self._stream.write(text + "\n\n")
            self._stream.flush()
            return
        if not self._started:
            self._stream.write(HIDE_CURSOR + CLEAR_SCREEN)
            self._started = True
        # Lines longer than the terminal would wrap and scroll the block off its place.
        width = shutil.get_terminal_size().columns
        lines = (line[:width] + ERASE_TO_END_OF_LINE for line in text.split("\n"))
        # Overwrite rather than clear the whole screen first: no flicker between refreshes.
        self._stream.write(CURSOR_HOME + "\n".join(lines) + "\n" + ERASE_BELOW)
        self._stream.flush()

    def close(self) -> None:
        """Give the cursor back (a no-op when nothing was shown in place)."""
        if self._started:
            self._started = False
            self._stream.write(SHOW_CURSOR)
            self._stream.flush()

    def __enter__(self) -> Screen:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
