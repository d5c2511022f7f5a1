"""The article's runs with examples/echo_server.py and examples/echo_client.py, on loopback."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PORT = "4455"


def python(script: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / script), *args]


@pytest.fixture
def server() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        python("echo_server.py", "127.0.0.1;127.0.0.2", PORT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first == f"echo server on 127.0.0.1:{PORT}, 127.0.0.2:{PORT}\n"
    yield process
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, "Ctrl-C ends the server cleanly"
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        python("echo_client.py", *args), capture_output=True, text=True, timeout=120, check=False
    )


def test_multihomed_client_to_multihomed_server(server: subprocess.Popen[str]) -> None:
    result = client(
        "-l",
        "127.0.0.3;127.0.0.4",
        "-r",
        "127.0.0.1;127.0.0.2",
        "-p",
        PORT,
        "-c",
        "5",
        "-s",
        "100",
        "--stream",
        "3",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        rf"association \d+: local 127\.0\.0\.3:(\d+), 127\.0\.0\.4:\1 -> peer "
        rf"127\.0\.0\.1:{PORT}, 127\.0\.0\.2:{PORT}",
        lines[0],
    )
    replies = lines[1:]
    assert len(replies) == 5
    for i, line in enumerate(replies):
        assert re.fullmatch(
            rf"reply {i}: 100 bytes on stream 3 via 127\.0\.0\.[12]:{PORT} ok", line
        ), line


def test_single_homed_client_to_multihomed_server(server: subprocess.Popen[str]) -> None:
    result = client("-r", "127.0.0.1, 127.0.0.2", "-p", PORT, "-c", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" ok\n") == 2
    assert f"-> peer 127.0.0.1:{PORT}, 127.0.0.2:{PORT}" in result.stdout


def test_bad_arguments_get_one_line_and_exit_2() -> None:
    bad_server = subprocess.run(
        python("echo_server.py", "256.1.1.1", PORT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad_server.returncode == 2
    assert bad_server.stderr.startswith("echo_server: ")
    assert "256.1.1.1" in bad_server.stderr
    assert len(bad_server.stderr.strip().splitlines()) == 1
    bad_client = client("-r", "127.0.0.1", "-p", "70000")
    assert bad_client.returncode == 2
    assert bad_client.stderr.startswith("echo_client: ")
    assert "70000" in bad_client.stderr
