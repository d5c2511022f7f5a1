"""Ctrl-C and SIGTERM as a request to stop, for the commands that run until told to.

``serve`` and ``paths`` are ended by the user, so for them a signal is the normal way out:
it sets an event the command waits on, the command closes its associations gracefully and
exits 0, with no KeyboardInterrupt traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

__all__ = ["stop_requested"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_requested() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (in the running loop)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, stop.set)
    try:
        yield stop
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
