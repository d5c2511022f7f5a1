"""The sctpmh command over the udp backend on this host: serve and connect as real processes
on loopback, 2x2, the backend chosen by ``--backend`` or by "auto" where the kernel has no
SCTP; and the options' errors."""

from __future__ import annotations

import re
import subprocess

import pytest

from sctpmh.kernel.diagnose import sctp_socket_error
from tests.cli_processes import WAIT, command, running

# Not 9899: other test runs on this host may hold the default port on these addresses.
UDP_PORT = "29871"
SCTP_PORT = "4491"


@pytest.mark.parametrize(
    "choice",
    [
        pytest.param(["--backend", "udp"], id="backend-udp"),
        pytest.param(
            [],
            id="auto",
            marks=pytest.mark.skipif(
                sctp_socket_error() is None, reason="auto picks the kernel backend here"
            ),
        ),
    ],
)
def test_serve_and_connect_2x2_over_udp(choice: list[str]) -> None:
    options = [*choice, "--udp-port", UDP_PORT]
    serve = command(*options, "serve", "127.0.0.1;127.0.0.2", "-p", SCTP_PORT)
    with running(serve) as server:
        assert server.line() == f"listening 127.0.0.1:{SCTP_PORT},127.0.0.2:{SCTP_PORT} backend=udp"
        result = subprocess.run(
            command(
                *options,
                "connect",
                "127.0.0.1;127.0.0.2",
                "-p",
                SCTP_PORT,
                "-l",
                "127.0.0.3;127.0.0.4",
                "-c",
                "3",
                "--stream",
                "5",
                "--ppid",
                "46",
            ),
            capture_output=True,
            text=True,
            check=False,
            timeout=WAIT,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert re.fullmatch(
            rf"connected assoc=\d+ local=127\.0\.0\.3:(\d+),127\.0\.0\.4:\1 "
            rf"peers=127\.0\.0\.1:{SCTP_PORT},127\.0\.0\.2:{SCTP_PORT} backend=udp",
            lines[0],
        ), lines[0]
        for seq, line in enumerate(lines[1:4]):
            assert line.startswith(f"reply seq={seq} status=ok bytes=64 stream=5 ppid=46 "), line
        assert lines[4] == "done sent=3 ok=3 failed=0"
        assert re.fullmatch(r"up assoc=\d+ peers=127\.0\.0\.3:\d+,127\.0\.0\.4:\d+", server.line())
        assert re.fullmatch(r"down assoc=\d+ messages=3 bytes=192 end=shutdown", server.line())
        status, _, stderr = server.interrupt()
        assert status == 0, stderr


def test_udp_port_with_the_kernel_backend_is_refused() -> None:
    result = subprocess.run(
        command("--backend", "kernel", "--udp-port", "9000", "serve", "127.0.0.1"),
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
    )
    assert result.returncode == 2
    # Where the kernel has no SCTP the missing SCTP is the first thing wrong.
    expected = (
        "sctpmh: --udp-port applies to the udp backend, not to kernel\n"
        if sctp_socket_error() is None
        else "sctpmh: the kernel backend cannot run here: "
    )
    assert result.stderr.startswith(expected), result.stderr


def test_serve_over_udp_needs_its_addresses() -> None:
    result = subprocess.run(
        command("--backend", "udp", "serve"),
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("sctpmh: the udp backend listens on the addresses it is given")
