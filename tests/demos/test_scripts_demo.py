"""``scripts/demo``, the README's first command, on this host: the echo demo then the failover
demo, both on the udp backend where this kernel has no SCTP, with no VM."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.geteuid() != 0, reason="the failover part builds namespaces (root)")
def test_scripts_demo_echoes_then_fails_over_losing_nothing() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "demo"), "--count", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "done: the association spans both addresses on both sides" in lines
    assert [line for line in lines if line.startswith("echo ")] == [
        f"echo {i}: 'message {i}' stream={i + 1} ppid=46 ok" for i in range(3)
    ]
    failover = lines[
        lines.index(
            "== failover: the primary path is cut while messages stream over the association"
        ) :
    ]
    assert "  sent 1000, received 1000, lost 0, duplicated 0" in failover
    assert failover[-1] == "result: every message arrived exactly once and in order"
