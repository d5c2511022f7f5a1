"""Worker processes: each side of each contender runs in a process of its own.

Workers are forked from the measuring process, which has imported everything already, so a
worker starts in milliseconds instead of the seconds a fresh interpreter takes under the lab's
emulation. The measuring process never runs an event loop itself, so a child starts clean and
makes its own loop. Parent and child talk over a pipe: the child may send messages (a port it
listens on, "ready"), the parent may answer, and the child ends with a result or an error.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

_CONTEXT = multiprocessing.get_context("fork")

Connection = multiprocessing.connection.Connection


def last_cpu() -> int:
    """The highest-numbered CPU this process may run on."""
    return max(os.sched_getaffinity(0))


class WorkerError(RuntimeError):
    """A worker failed, or did not answer in time; the message says which and why."""


class Channel:
    """The child's end of the pipe."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def tell(self, value: Any) -> None:
        """Send ``value`` to the parent (which reads it with :meth:`Worker.message`)."""
        self._connection.send(("message", value))

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the parent sends something; return it."""
        if not self._connection.poll(timeout):
            raise TimeoutError("the parent sent nothing in time")
        return self._connection.recv()

    async def wait_async(self) -> Any:
        """Wait for the parent without blocking the running event loop."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        fd = self._connection.fileno()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await readable
        finally:
            loop.remove_reader(fd)
        return self._connection.recv()


Target = Callable[..., dict[str, Any]]


def _dump_state(signum: int, frame: FrameType | None) -> None:
    """SIGUSR1: print where this worker is, and every asyncio task's stack, to stderr; the
    parent sends it before giving up on a worker, so that a hang leaves a trace."""
    print(f"--- worker {os.getpid()} did not finish; its stack:", file=sys.stderr)
    traceback.print_stack(frame, file=sys.stderr)
    loop = asyncio._get_running_loop()
    if loop is not None:
        for task in asyncio.all_tasks(loop):
            task.print_stack(file=sys.stderr)
    sys.stderr.flush()


def _child_main(
    connection: Connection, name: str, cpu: int | None, target: Target, args: tuple[Any, ...]
) -> None:
    signal.signal(signal.SIGUSR1, _dump_state)
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        result = target(Channel(connection), *args)
    except BaseException:
        connection.send(("error", f"{name}: {traceback.format_exc()}"))
    else:
        connection.send(("result", result))
    finally:
        connection.close()


class Worker:
    """A forked child running ``target(channel, *args)``, which returns a JSON-ready dict;
    with ``cpu`` the child runs on that CPU only."""

    def __init__(self, name: str, target: Target, *args: Any, cpu: int | None = None) -> None:
        self.name = name
        parent, child = _CONTEXT.Pipe()
        self._connection = parent
        self._process = _CONTEXT.Process(
            target=_child_main, args=(child, name, cpu, target, args), name=name, daemon=True
        )
        self._process.start()
        child.close()
        self._result: dict[str, Any] | None = None

    def _receive(self, timeout: float) -> tuple[str, Any]:
        try:
            ready = self._connection.poll(timeout)
        except (EOFError, OSError) as exc:
            raise WorkerError(f"{self.name} died without a result") from exc
        if not ready:
            self._dump()
            raise WorkerError(f"{self.name} did not answer within {timeout:.0f} s")
        try:
            kind, value = self._connection.recv()
        except EOFError as exc:
            code = self._process.exitcode
            raise WorkerError(f"{self.name} died without a result (exit code {code})") from exc
        if kind == "error":
            raise WorkerError(str(value))
        return str(kind), value

    def _dump(self) -> None:
        """Have a stuck child print its stacks (see ``_dump_state``) before it is killed."""
        if self._process.pid is not None and self._process.is_alive():
            os.kill(self._process.pid, signal.SIGUSR1)
            time.sleep(1.0)

    def message(self, timeout: float) -> Any:
        """The next message the child sends with :meth:`Channel.tell`."""
        kind, value = self._receive(timeout)
        if kind != "message":
            raise WorkerError(f"{self.name} ended before sending what was expected")
        return value

    def send(self, value: Any) -> None:
        """Hand ``value`` to the child (read with :meth:`Channel.wait`)."""
        self._connection.send(value)

    def result(self, timeout: float) -> dict[str, Any]:
        """Wait for the child's result and for the child to exit."""
        while self._result is None:
            kind, value = self._receive(timeout)
            if kind == "result":
                self._result = dict(value)
        self._process.join(timeout)
        return self._result

    def stop(self) -> None:
        """End the child if it is still running (after a failure elsewhere)."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join(10)
        self._connection.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
