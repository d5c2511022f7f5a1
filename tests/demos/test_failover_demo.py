"""examples/failover_demo.py run as a user runs it: a subprocess that builds its own namespaces.

What is checked is what the demo promises: exit status 0, a timeline in which the cut comes
first, then the cut path's failure and the first message by the other path, then the restore
and the path coming back, and totals with every message received once and in order; the
--json file says the same as the printout. How long any of it takes is not asserted (the
demo prints it; speed belongs to benchmarks).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Each demo on kernel SCTP (in the lab VM) and on the udp backend (on this host, no VM).
BACKENDS = [pytest.param("kernel", marks=pytest.mark.kernel), pytest.param("udp")]

DEMO = Path(__file__).resolve().parents[2] / "examples" / "failover_demo.py"
MESSAGES = 300
TIMELINE_HEADER = "timeline (seconds since the first message):"


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def first(entries: list[dict[str, Any]], event: str, after: int = -1, address: str = "") -> int:
    """Index of the first timeline entry of kind ``event`` (about ``address`` when given)
    after index ``after``."""
    for i, entry in enumerate(entries):
        if i > after and entry["event"] == event and address in ("", entry["address"]):
            return i
    raise AssertionError(f"no {event!r} entry after #{after} in {[e['event'] for e in entries]}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_primary_cut_midway_loses_nothing(backend: str, loop: str, tmp_path: Path) -> None:
    report_file = tmp_path / "failover.json"
    args = ["--backend", backend, "--preset", "fast", "--messages", str(MESSAGES), "--rate", "100"]
    args += ["--json", str(report_file)] + (["--uvloop"] if loop == "uvloop" else [])
    result = demo(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    report = json.loads(report_file.read_text())
    assert report["ok"] is True
    assert report["loop"] == loop

    # The printed timeline is the JSON one, line for line.
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"backend {backend}: ") for line in lines[:4]), lines[:4]
    printed = lines[lines.index(TIMELINE_HEADER) + 1 : lines.index("totals:")]
    entries = report["timeline"]
    assert printed == [f"{e['t']:9.3f}  {e['text']}" for e in entries]

    # Cut; the cut path potentially failed (the preset's threshold is 0) and the first
    # message by the other path, in either order; down; restored; active again.
    primary = report["primary_path"]["server"]
    cut = first(entries, "cut")
    failed = first(entries, "path-potentially-failed", cut, primary)
    moved = first(entries, "first-via-other-path", cut)
    assert f"from {report['primary_path']['client']}" not in entries[moved]["text"]
    down = first(entries, "path-inactive", cut, primary)
    restored = first(entries, "restore", max(failed, moved, down))
    first(entries, "path-active", restored, primary)

    totals = report["totals"]
    assert totals["sent"] == totals["received"] == MESSAGES
    assert totals["lost"] == totals["duplicated"] == 0
    assert totals["out_of_order"] == {"0": 0, "1": 0, "2": 0, "3": 0}
    # The figures are the timeline's, and printed as they are in the file.
    cut_at = entries[cut]["t"]
    for key, index in [("cut_to_other_path_s", moved), ("cut_to_down_s", down)]:
        assert totals[key] == round(entries[index]["t"] - cut_at, 3)
    assert f"  cut -> path down: {totals['cut_to_down_s']:.3f} s" in lines
    assert f"  sent {MESSAGES}, received {MESSAGES}, lost 0, duplicated 0" in lines
    assert "  out of order: stream 0: 0, stream 1: 0, stream 2: 0, stream 3: 0" in lines
    assert lines[-1] == "result: every message arrived exactly once and in order"


def test_bad_arguments_get_one_line_and_exit_2() -> None:
    for args, named in [
        (["--messages", "5"], "--messages"),
        (["--preset", "slow"], "--preset"),
    ]:
        result = demo(*args)
        assert result.returncode == 2, args
        assert result.stdout == ""
        assert result.stderr.startswith(f"failover_demo: argument {named}: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_removes_the_namespaces(backend: str) -> None:
    process = subprocess.Popen(
        [sys.executable, str(DEMO), "--backend", backend, "--messages", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    names = re.compile(rf"sctpmh-[lr]{process.pid}-\d+")
    try:
        while (line := process.stdout.readline()) != TIMELINE_HEADER + "\n":
            assert line, "the demo ended before it started sending"
        assert len(names.findall(namespaces())) == 2
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
    finally:
        process.kill()
        process.wait()
    assert process.stderr.read() == "failover_demo: interrupted\n"
    assert names.findall(namespaces()) == []


def namespaces() -> str:
    return subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
