"""examples/echo_demo.py, the demo `scripts/demo` runs: its output, line by line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sctpmh.kernel.diagnose import sctp_socket_error

# Each demo on kernel SCTP (in the lab VM) and on the udp backend (on this host, no VM).
BACKENDS = [pytest.param("kernel", marks=pytest.mark.kernel), pytest.param("udp")]

DEMO = Path(__file__).resolve().parents[2] / "examples" / "echo_demo.py"


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), *args], capture_output=True, text=True, timeout=120, check=False
    )


def path_lines(lines: list[str], title: str) -> list[str]:
    """The "path to" lines under one side's heading."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{title}: association "))
    return [line for line in lines[start + 2 : start + 4] if line.startswith("  path to ")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loop", [[], ["--uvloop"]], ids=["asyncio", "uvloop"])
def test_demo_echoes_over_both_addresses_of_each_side(backend: str, loop: list[str]) -> None:
    result = demo("--count", "4", "--backend", backend, *loop)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    port = re.fullmatch(r"server listening on 127\.0\.0\.1:(\d+), 127\.0\.0\.2:\1", lines[0])
    assert port, lines[0]
    assert lines[1].startswith(f"backend {backend}: ")
    assert lines[2].startswith("event loop: uvloop" if loop else "event loop: asyncio's default")
    echoes = [line for line in lines if line.startswith("echo ")]
    # Streams 1, 2, 3, ... (never 0), PPID 46, every echo unchanged.
    assert echoes == [f"echo {i}: 'message {i}' stream={i + 1} ppid=46 ok" for i in range(4)]
    # The client's association reaches both server addresses, one of them primary.
    client_paths = path_lines(lines, "client")
    assert sorted(line.split()[2] for line in client_paths) == [
        f"127.0.0.1:{port[1]}",
        f"127.0.0.2:{port[1]}",
    ]
    assert sum(line.endswith("(primary)") for line in client_paths) == 1
    assert lines[-1] == "done: the association spans both addresses on both sides"
    server_locals = next(line for line in lines if line.startswith("  local addresses: "))
    assert re.fullmatch(
        rf"  local addresses: 127\.0\.0\.[12]:{port[1]}, 127\.0\.0\.[12]:{port[1]}", server_locals
    ), server_locals


def test_a_kernel_without_sctp_names_the_udp_backend() -> None:
    if sctp_socket_error() is None:
        pytest.skip("this kernel has SCTP")
    result = demo("--backend", "kernel")
    assert result.returncode == 2
    assert result.stderr.startswith("echo_demo: ")
    assert "use sctpmh's udp backend" in result.stderr


def test_bad_argument_one_line_exit_2() -> None:
    result = demo("--count", "many")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("echo_demo: argument --count: invalid int value: 'many'")
    assert len(result.stderr.splitlines()) == 1
