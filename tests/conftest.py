"""Test setup: the ``kernel`` marker, both event loops, and the namespace topology fixture.

Tests marked ``kernel`` need a Linux kernel with SCTP. ``scripts/test`` runs them natively
where the host has it and inside the lab VM where it doesn't. With ``--require-kernel``
(always given by scripts/test) a kernel test that finds no SCTP fails instead of skipping, so
CI cannot go green without running them.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator, Mapping

import pytest
import uvloop

from lab import netlab
from sctpmh.kernel.diagnose import sctp_socket_error


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-kernel",
        action="store_true",
        default=os.environ.get("SCTPMH_REQUIRE_KERNEL") == "1",
        help="fail (not skip) kernel tests when this kernel has no SCTP",
    )


@functools.cache
def kernel_sctp_problem() -> str | None:
    """Why this kernel cannot run SCTP, or None when it can."""
    error = sctp_socket_error()
    return None if error is None else f"this kernel has no SCTP ({error.strerror})"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kernel") is None:
        return
    problem = kernel_sctp_problem()
    if problem is None:
        return
    if item.config.getoption("--require-kernel"):
        pytest.fail(f"kernel test cannot run: {problem}, and --require-kernel is set")
    pytest.skip(f"{problem}; scripts/test runs these inside the lab VM")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every kernel test and every contract test runs on the default loop and on uvloop."""
    if item.get_closest_marker("kernel") is not None or "contract" in item.nodeid.split("/"):
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture
def topology() -> Iterator[netlab.Topology]:
    """Two namespaces joined by two paths (veth pairs), torn down after the test."""
    if os.geteuid() != 0:
        pytest.fail("the namespace topology needs root (the lab VM runs tests as root)")
    with netlab.two_path_topology() as topo:
        yield topo
