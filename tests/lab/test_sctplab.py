"""The lab runner itself: it boots, passes exit codes and output through, and stops on time.

These boot the real VM from the host (a few seconds each), so they run in the host phase of
scripts/test, never inside the lab.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import sctplab

pytestmark = pytest.mark.lab

RUNNER = [sys.executable, str(Path(sctplab.__file__))]


def run_lab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNNER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_exit_status_and_output_come_back_from_a_kernel_with_sctp() -> None:
    script = (
        "import socket, sys; "
        "s = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP); "
        "print('sctp socket', s.proto); "
        "print(open('/proc/sys/kernel/osrelease').read().strip()); sys.exit(7)"
    )
    result = run_lab("run", "--timeout", "120", "--", sys.executable, "-c", script)
    assert result.returncode == 7, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sctp socket 132"
    assert lines[1].endswith("-amd64"), "the guest runs Debian's kernel"


def test_the_guest_writes_into_the_project_directory(tmp_path: Path) -> None:
    target = sctplab.PROJECT_ROOT / ".lab" / "guest-write-test"
    target.unlink(missing_ok=True)
    result = run_lab("run", "--timeout", "120", "--", "sh", "-c", f"echo from-guest > {target}")
    assert result.returncode == 0, result.stderr
    assert target.read_text() == "from-guest\n"
    target.unlink()


def test_a_command_over_its_time_limit_is_stopped() -> None:
    result = run_lab("run", "--timeout", "20", "--", "sleep", "600")
    assert result.returncode == 124
    assert "time limit of 20 s" in result.stderr


def test_a_vm_that_cannot_boot_fails_with_a_message_not_a_hang(tmp_path: Path) -> None:
    sctplab.prepare()
    broken = tmp_path / "broken.cpio.gz"
    broken.write_bytes(gzip.compress(b"not an initramfs"))
    with pytest.raises(sctplab.LabError, match=r"did not boot|stopped before"):
        sctplab.run_in_vm(["true"], timeout=60, boot_timeout=30, initramfs_override=broken)


def test_cpio_archive_is_newc_with_aligned_entries() -> None:
    archive = sctplab._cpio_newc([("init", 0o100755, b"#!/bin/sh\n"), ("dir", 0o040755, b"")])
    assert archive.startswith(b"070701")
    assert len(archive) % 4 == 0
    assert b"init\0" in archive
    assert archive.rstrip(b"\0").endswith(b"TRAILER!!!")
    # The first header's file size field (the 7th of 13 8-hex-digit fields) is 10 bytes.
    assert int(archive[6 + 6 * 8 : 6 + 7 * 8], 16) == len(b"#!/bin/sh\n")


def test_the_shell_gets_the_host_terminals_size() -> None:
    size = os.terminal_size((132, 41))
    command = sctplab.sized_shell(["setsid", "-c", "/bin/bash", "-l"], size)
    # Run the wrapper here with a harmless command in place of the shell: it must pass the
    # size to stty and then run the command it wraps, with its arguments intact.
    assert command[:2] == ["sh", "-c"]
    assert "stty rows 41 cols 132" in command[2]
    assert command[-4:] == ["setsid", "-c", "/bin/bash", "-l"]
    probe = subprocess.run(
        [*command[:4], "echo", "ran", "with args"], capture_output=True, text=True, check=True
    )
    assert probe.stdout == "ran with args\n"
    assert sctplab.sized_shell(["/bin/sh"], None) == ["/bin/sh"]
    assert {"COLUMNS", "LINES"} <= sctplab.ENV_NAMES  # sctpmh paths in `run` sees the size
