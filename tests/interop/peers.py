"""What the interop tests share: their prerequisites, and a namespace of their own.

A missing prerequisite (root, tshark, a usrsctp program) skips a test on a developer's
machine; with ``CI=true`` it fails instead, so CI cannot go green without running them.
Programs that bind the wildcard address run only inside a namespace the test created.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import sctpmh
from lab import netlab

USRSCTP = Path("/usr/lib/usrsctp")
_names = itertools.count()


def missing(what: str) -> None:
    """Skip (or, under CI, fail) for a missing prerequisite."""
    message = f"{what} (scripts/hostdeps installs the interop peers and tshark)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"interop prerequisite missing under CI: {message}")
    pytest.skip(message)


def require_capture_tools() -> None:
    """Root and tshark/dumpcap, which every interop test needs."""
    if os.geteuid() != 0:
        missing("interop tests build network namespaces and need root")
    for program in ("tshark", "dumpcap"):
        if shutil.which(program) is None:
            missing(f"{program} is not installed")


def usrsctp_program(name: str) -> Path:
    """The path of one of usrsctp's example programs (Debian's libusrsctp-examples)."""
    require_capture_tools()
    path = USRSCTP / name
    if not os.access(path, os.X_OK):
        missing(f"{path} is missing (apt-get install libusrsctp-examples)")
    return path


@contextlib.contextmanager
def loopback_namespace() -> Iterator[netlab.Namespace]:
    """A namespace of this test's own whose only interface is ``lo`` (up), deleted after."""
    namespace = netlab.Namespace(f"sctpmh-i{os.getpid()}-{next(_names)}")
    netlab.run("ip", "netns", "add", namespace.name)
    try:
        namespace.ip("link", "set", "lo", "up")
        yield namespace
    finally:
        subprocess.run(["ip", "netns", "del", namespace.name], capture_output=True, check=False)


async def all_paths_active(association: sctpmh.Association) -> None:
    """Wait (bounded) until every peer address is confirmed and active (RFC 9260 5.4)."""

    def active() -> bool:
        return all(p.state is sctpmh.PathState.ACTIVE for p in association.paths)

    async with asyncio.timeout(60):
        if active():
            return
        async for event in association.events():
            if isinstance(event, sctpmh.PathStateChanged) and active():
                return
