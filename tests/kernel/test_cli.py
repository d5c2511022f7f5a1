"""The sctpmh command on a kernel with SCTP: check; the serve/connect echo pair on loopback;
paths on the two-path namespace topology, steady and with its primary path cut.

Every command runs as a real process (``python -m sctpmh.cli``, inside a namespace through
``ip netns exec``), and its output is checked line by line.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lab import netlab
from tests.cli_processes import WAIT, Running, command, running

pytestmark = pytest.mark.kernel

LOOPBACK_PORT = "4477"
NO_SERVER_PORT = "4478"
TOPOLOGY_PORT = "4479"
# The terminal control sequences of sctpmh.cli.screen, as bytes.
CURSOR_HOME, HIDE_CURSOR, SHOW_CURSOR = b"\x1b[H", b"\x1b[?25l", b"\x1b[?25h"
COLUMNS = ["PEER", "STATE", "SRTT-ms", "RTO-ms", "CWND", "MTU", "ECHO-ms", "PRIMARY"]


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


# --- helpers ---------------------------------------------------------------------------------


def table_rows(block: list[str]) -> dict[str, list[str]]:
    """The cells of each path row of a ``sctpmh paths`` block, by peer address."""
    assert block[2].split() == COLUMNS, block
    rows = {}
    for line in block[3 : block.index("events:")]:
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def event_lines(block: list[str]) -> list[str]:
    """The event descriptions under "events:", without their time stamps."""
    lines = block[block.index("events:") + 1 :]
    return [re.sub(r"^  \+\d+\.\d{3}s  ", "", line) for line in lines]


def primary_of(block: list[str]) -> str:
    """The peer address of the one row marked primary."""
    primaries = [address for address, cells in table_rows(block).items() if cells[-1] == "*"]
    assert len(primaries) == 1, block
    return primaries[0]


# --- serve and connect on loopback -----------------------------------------------------------


@pytest.fixture
def loopback_server() -> Iterator[Running]:
    with running(command("serve", "127.0.0.1;127.0.0.2", "-p", LOOPBACK_PORT)) as server:
        port = LOOPBACK_PORT
        assert server.line() == f"listening 127.0.0.1:{port},127.0.0.2:{port} backend=kernel"
        yield server


def test_serve_and_connect_2x2_on_loopback(loopback_server: Running) -> None:
    port = re.escape(LOOPBACK_PORT)
    result = subprocess.run(
        command(
            "connect",
            "127.0.0.1,127.0.0.2",
            "-l",
            "127.0.0.3 127.0.0.4",
            "-p",
            LOOPBACK_PORT,
            "-c",
            "3",
            "-s",
            "100",
            "--stream",
            "2",
            "--ppid",
            "7",
        ),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 5, lines
    connected = re.fullmatch(
        rf"connected assoc=\d+ local=127\.0\.0\.3:(\d+),127\.0\.0\.4:\1 "
        rf"peers=127\.0\.0\.1:{port},127\.0\.0\.2:{port} backend=kernel",
        lines[0],
    )
    assert connected, lines[0]
    client_port = connected[1]
    for seq, line in enumerate(lines[1:4]):
        assert re.fullmatch(
            rf"reply seq={seq} status=ok bytes=100 stream=2 ppid=7 "
            rf"via=127\.0\.0\.[12]:{port} rtt_ms=\d+\.\d{{3}}",
            line,
        ), line
    assert lines[4] == "done sent=3 ok=3 failed=0"

    # Messages from stdin, one per line: the echoes on stdout reproduce the input exactly
    # (an empty line is a one-byte message, the last line has no newline), reports on stderr.
    piped = subprocess.run(
        command("connect", "127.0.0.1", "-p", LOOPBACK_PORT, "-"),
        input="hello\n\nworld",
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "hello\n\nworld"
    reports = piped.stderr.splitlines()
    assert len(reports) == 5, reports
    assert reports[0].startswith("connected assoc=")
    for seq, size in enumerate([6, 1, 5]):
        assert re.fullmatch(
            rf"reply seq={seq} status=ok bytes={size} stream=0 ppid=0 "
            rf"via=127\.0\.0\.1:{port} rtt_ms=\d+\.\d{{3}}",
            reports[1 + seq],
        ), reports[1 + seq]
    assert reports[4] == "done sent=3 ok=3 failed=0"

    status, served, errors = loopback_server.interrupt()
    assert status == 0, errors
    assert errors == ""
    # One "up" and one "down" per association, in that order for each.
    ups = [re.fullmatch(r"up assoc=(\d+) peers=(\S+)", line) for line in served[0::2]]
    downs = [re.fullmatch(r"down assoc=(\d+) (.*)", line) for line in served[1::2]]
    assert len(served) == 4, served
    assert all(ups), served
    assert all(downs), served
    ended = {down[1]: down[2] for down in downs if down}
    by_peer = {up[2]: ended[up[1]] for up in ups if up}
    assert by_peer[f"127.0.0.3:{client_port},127.0.0.4:{client_port}"] == (
        "messages=3 bytes=300 end=shutdown"
    )
    del by_peer[f"127.0.0.3:{client_port},127.0.0.4:{client_port}"]
    assert list(by_peer.values()) == ["messages=3 bytes=12 end=shutdown"]


def test_connect_without_a_server_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        command("connect", "127.0.0.1", "-p", NO_SERVER_PORT),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"sctpmh: cannot connect to 127.0.0.1 port {NO_SERVER_PORT}: ")
    assert result.stderr.count("\n") == 1


# --- paths on the two-path topology ----------------------------------------------------------


def serve_in(topology: netlab.Topology, *options: str) -> list[str]:
    """``sctpmh serve`` on every address of the left namespace."""
    left = topology.addresses("left")
    return command("serve", ";".join(left), "-p", TOPOLOGY_PORT, *options, netns=topology.left.name)


def paths_in(topology: netlab.Topology, *options: str) -> list[str]:
    """``sctpmh paths`` from every address of the right namespace, refreshed every 0.5 s."""
    return command(
        "paths",
        ";".join(topology.addresses("left")),
        "-p",
        TOPOLOGY_PORT,
        "-l",
        ",".join(topology.addresses("right")),
        "--interval",
        "0.5",
        *options,
        netns=topology.right.name,
    )


def test_paths_count_3_shows_every_path_three_times(topology: netlab.Topology) -> None:
    left, right = topology.addresses("left"), topology.addresses("right")
    peers = {f"{host}:{TOPOLOGY_PORT}" for host in left}
    with running(serve_in(topology)) as server:
        assert server.line() == f"listening {','.join(sorted(peers))} backend=kernel"
        result = subprocess.run(
            paths_in(topology, "--count", "3"),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        # Not a terminal: three plain blocks, each followed by a blank line.
        assert "\x1b" not in result.stdout
        assert result.stdout.endswith("\n\n")
        blocks = [block.split("\n") for block in result.stdout[:-2].split("\n\n")]
        assert len(blocks) == 3
        uptimes = []
        for block in blocks:
            header = re.fullmatch(
                rf"association \d+  up (\d+\.\d)s  "
                rf"local {re.escape(right[0])}:(\d+),{re.escape(right[1])}:\2",
                block[0],
            )
            assert header, block[0]
            uptimes.append(float(header[1]))
            assert re.fullmatch(r"echo: \d+ sent, \d+ answered(, last round trip .*)?", block[1])
            rows = table_rows(block)
            assert set(rows) == peers
            for cells in rows.values():
                assert cells[1] == "active", block
                assert int(cells[4]) > 0, block  # cwnd
                assert int(cells[5]) > 0, block  # mtu
            primary_of(block)
            events = block[block.index("events:") + 1 :]
            assert events == ["  (none)"] or all(
                re.fullmatch(r"  \+\d+\.\d{3}s  \S.*", line) for line in events
            ), events
        assert uptimes == sorted(uptimes)

        status, served, errors = server.interrupt()
    assert status == 0, errors
    client = ",".join(f"{host}:\\d+" for host in right)
    assert re.fullmatch(rf"up assoc=\d+ peers={client}", served[0]), served
    assert re.fullmatch(r"down assoc=\d+ messages=\d+ bytes=\d+ end=shutdown", served[1]), served


def test_paths_shows_the_cut_primary_path_failing(topology: netlab.Topology) -> None:
    left = topology.addresses("left")
    with running(serve_in(topology, "--fast-failover")) as server:
        assert server.line().startswith("listening ")
        with running(paths_in(topology, "--fast-failover")) as paths:
            first = paths.block()
            primary = primary_of(first)
            assert table_rows(first)[primary][1] == "active"
            topology.cut(left.index(primary.rsplit(":", 1)[0]), "loss")
            # Refreshes come every 0.5 s; the preset marks the path potentially failed at its
            # first timeout (RFC 7829) and inactive at its third (RFC 9260 section 8.2).
            for _ in range(240):
                block = paths.block()
                state = table_rows(block)[primary][1]
                failed = {f"path {primary} potentially-failed", f"path {primary} inactive"}
                if state != "active" and failed & set(event_lines(block)):
                    break
            else:
                pytest.fail(f"the cut path {primary} never left the active state")
            assert state in ("potentially-failed", "inactive")
            # Tables drawn seconds later, ten echo pings on, still show the dead path and
            # its events; the other path stays active and carries the association on.
            for _ in range(10):
                block = paths.block()
            rows = table_rows(block)
            assert rows[primary][1] in ("potentially-failed", "inactive"), block
            assert failed & set(event_lines(block)), block
            assert [cells[1] for address, cells in rows.items() if address != primary] == [
                "active"
            ], block

            status, _, errors = paths.interrupt()
            assert status == 0, errors
            assert errors == ""
        status, _, errors = server.interrupt()
        assert status == 0, errors
        assert errors == ""


def test_paths_on_a_terminal_redraws_in_place_and_gives_the_cursor_back_on_ctrl_c(
    loopback_server: Running,
) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command("paths", "127.0.0.1;127.0.0.2", "-p", LOOPBACK_PORT, "--interval", "0.2"),
        stdout=terminal,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    try:
        shown = b""
        # Wait for the second refresh: the table has been drawn in place twice.
        while shown.count(CURSOR_HOME) < 2:
            ready, _, _ = select.select([controller], [], [], WAIT)
            assert ready, f"no table on the terminal in {WAIT} s: {shown!r}"
            shown += os.read(controller, 65536)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT) == 0
        with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
            while chunk := os.read(controller, 65536):
                shown += chunk
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert process.stderr is not None
    assert process.stderr.read() == ""
    assert shown.startswith(HIDE_CURSOR)
    assert b"PEER " in shown
    assert b"127.0.0.1:" + LOOPBACK_PORT.encode() in shown
    assert shown.endswith(SHOW_CURSOR)


def test_paths_exits_1_with_a_last_table_when_the_peer_shuts_down() -> None:
    with running(command("serve", "127.0.0.1", "-p", LOOPBACK_PORT)) as server:
        assert server.line() == f"listening 127.0.0.1:{LOOPBACK_PORT} backend=kernel"
        with running(
            command("paths", "127.0.0.1", "-p", LOOPBACK_PORT, "--interval", "0.2")
        ) as paths:
            assert f"127.0.0.1:{LOOPBACK_PORT}" in table_rows(paths.block())
            # SIGTERM stops the server like Ctrl-C: its associations SHUT DOWN gracefully.
            server.process.send_signal(signal.SIGTERM)
            status, served, errors = server.finish()
            assert status == 0, errors
            assert re.fullmatch(r"down assoc=\d+ messages=\d+ bytes=\d+ end=shutdown", served[-1])
            status, shown, errors = paths.finish()
    assert status == 1
    assert errors == "sctpmh: the peer shut the association down\n"
    # Every refresh is a block followed by a blank line; the last shows the ended association.
    assert shown[-1] == ""
    last = "\n".join(shown).rstrip("\n").split("\n\n")[-1].split("\n")
    assert last[3] == "(no paths: the association has ended)"
    assert event_lines(last)[-2:] == ["the peer is shutting down", "association closed"]


# --- logging and uvloop ----------------------------------------------------------------------


def test_verbose_serve_on_uvloop_logs_each_association_with_its_id() -> None:
    port = "4480"
    with running(command("-v", "--uvloop", "serve", "127.0.0.1", "-p", port)) as server:
        assert server.line() == f"listening 127.0.0.1:{port} backend=kernel"
        result = subprocess.run(
            command("--uvloop", "connect", "127.0.0.1", "-p", port, "-c", "2"),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", "the client was not asked to log"
        up = server.line()
        assoc = re.fullmatch(r"up assoc=(\d+) peers=127\.0\.0\.1:\d+", up)
        assert assoc, up
        status, _, stderr = server.interrupt()
    assert status == 0
    records = stderr.splitlines()
    assert any(
        re.search(
            rf" INFO sctpmh\.kernel: association {assoc[1]}: up, local 127\.0\.0\.1:{port}, ",
            line,
        )
        for line in records
    ), records
    assert any(
        line.endswith(f" INFO sctpmh.kernel: association {assoc[1]}: closed") for line in records
    ), records
    assert "Traceback" not in stderr
