"""sctpmh check on a kernel with SCTP."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.kernel


def test_sctpmh_check_reports_usable_kernel_sctp() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sctpmh.cli", "check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("kernel SCTP is usable: SCTP sockets open on Linux ")
